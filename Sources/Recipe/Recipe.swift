import CYAML
public func yamlVersion() -> String { String(cString: yaml_get_version_string()) }
