import CZlib
public func zlibVersionString() -> String { String(cString: zlibVersion()) }
