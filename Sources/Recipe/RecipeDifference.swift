/// One value that differs between two renderings of a recipe (`renderYAML`), by key path
/// (`schedule.epochs`, `eval.attacks.0.steps`); nil where one side has no such key.
public struct RecipeDifference: Equatable, Sendable, CustomStringConvertible {
    public var path: String
    public var old: String?
    public var new: String?

    public var description: String { "\(path): \(old ?? "(absent)") → \(new ?? "(absent)")" }
}

/// The leaf values that differ between two recipe texts, in key-path order. Comments and
/// layout do not count; a list is compared item by item.
public func recipeDifferences(old: String, new: String) throws -> [RecipeDifference] {
    let before = leaves(try YAMLReader.parse(old, file: "<old recipe>"))
    let after = leaves(try YAMLReader.parse(new, file: "<new recipe>"))
    return Set(before.keys).union(after.keys).sorted().compactMap { path in
        before[path] == after[path] ? nil : RecipeDifference(path: path, old: before[path], new: after[path])
    }
}

/// Every scalar of a tree by its key path (`a.b.0.c`); an empty mapping or list is a leaf too.
private func leaves(_ node: YAMLNode, path: String = "") -> [String: String] {
    func child(_ key: String) -> String { path.isEmpty ? key : path + "." + key }
    var result = [String: String]()
    switch node.value {
    case .scalar(let scalar):
        result[path] = scalar.quoted ? "\"\(scalar.text)\"" : scalar.text
    case .mapping(let entries):
        if entries.isEmpty { result[path] = "{}" }
        for entry in entries { result.merge(leaves(entry.value, path: child(entry.key))) { _, new in new } }
    case .sequence(let items):
        if items.isEmpty { result[path] = "[]" }
        for (index, item) in items.enumerated() { result.merge(leaves(item, path: child(String(index)))) { _, new in new } }
    }
    return result
}
