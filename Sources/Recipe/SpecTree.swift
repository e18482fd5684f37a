import Foundation

/// A located YAML tree for other readers of rat's YAML files (table specs): the same reader
/// as recipes, so the same `file:line:col` errors, duplicate-key and tab checks.
public struct SpecNode: Sendable {
    public struct Entry: Sendable {
        public var key: String
        public var keyLocation: SourceLocation
        public var value: SpecNode
    }

    public indirect enum Value: Sendable {
        case scalar(text: String, quoted: Bool)
        case mapping([Entry])
        case sequence([SpecNode])
    }

    public var value: Value
    public var location: SourceLocation

    /// Reads and parses a file; an unreadable file is an error located at `site` (where it was
    /// named) or at the file's top.
    public static func read(path: String, namedAt site: SourceLocation? = nil) throws -> SpecNode {
        let here = site ?? SourceLocation(file: path, line: 1, column: 1)
        guard let data = FileManager.default.contents(atPath: path) else {
            throw RecipeError("cannot read '\(path)'", at: here)
        }
        guard let text = String(data: data, encoding: .utf8) else { throw RecipeError("'\(path)' is not UTF-8 text", at: here) }
        return try parse(text, file: path)
    }

    public static func parse(_ text: String, file: String) throws -> SpecNode {
        SpecNode(try YAMLReader.parse(text, file: file))
    }

    init(_ node: YAMLNode) {
        location = node.location
        switch node.value {
        case .scalar(let scalar): value = .scalar(text: scalar.text, quoted: scalar.quoted)
        case .mapping(let entries):
            value = .mapping(entries.map { Entry(key: $0.key, keyLocation: $0.keyLocation, value: SpecNode($0.value)) })
        case .sequence(let items): value = .sequence(items.map(SpecNode.init))
        }
    }

    /// What the node is, for messages ("a list", "a scalar '3'").
    public var kindName: String {
        switch value {
        case .scalar(let text, let quoted):
            return !quoted && (text.isEmpty || text == "~" || text == "null") ? "nothing (null)" : "a scalar '\(text)'"
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        }
    }

    /// The node as one line of flow YAML, as `--set key=value` takes it (`0.3`, `[a, b]`, `{k: v}`).
    public var flowText: String {
        switch value {
        case .scalar(let text, let quoted):
            guard quoted else { return text }
            return "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
        case .mapping(let entries): return "{" + entries.map { "\($0.key): \($0.value.flowText)" }.joined(separator: ", ") + "}"
        case .sequence(let items): return "[" + items.map(\.flowText).joined(separator: ", ") + "]"
        }
    }
}

/// Every key path of a YAML text (`loss.params.eta`, `eval.attacks.0`), inner ones included:
/// what a `--set` or a sweep may address in a resolved recipe (`renderYAML`).
public func yamlKeyPaths(_ text: String) throws -> Set<String> {
    var paths = Set<String>()
    func visit(_ node: YAMLNode, _ path: String) {
        if !path.isEmpty { paths.insert(path) }
        switch node.value {
        case .scalar: break
        case .mapping(let entries): for entry in entries { visit(entry.value, path.isEmpty ? entry.key : path + "." + entry.key) }
        case .sequence(let items): for (index, item) in items.enumerated() { visit(item, path + ".\(index)") }
        }
    }
    visit(try YAMLReader.parse(text, file: "<resolved recipe>"), "")
    return paths
}

/// " — did you mean 'x'?" for a close candidate, else the list of candidates: the recipe
/// reader's suggestion, for other readers' unknown names.
public func suggestion(for word: String, among candidates: [String]) -> String {
    didYouMean(word, among: candidates)
}
