import Recipe

/// Reads a mapping of a table spec: unknown keys are errors with a suggestion, every value
/// is checked for its type where it is written.
struct SpecReader {
    let node: SpecNode
    let entries: [SpecNode.Entry]

    init(_ node: SpecNode, what: String, known: [String]) throws {
        self.node = node
        entries = try Self.entries(node, what: what)
        for entry in entries where !known.contains(entry.key) {
            throw RecipeError("unknown key '\(entry.key)' in \(what)" + suggestion(for: entry.key, among: known), at: entry.keyLocation)
        }
    }

    func child(_ key: String) -> SpecNode? { entries.first { $0.key == key }?.value }

    func string(_ key: String) throws -> String? { try child(key).map { try Self.scalar($0, what: "'\(key)'") } }

    func int(_ key: String) throws -> Int? { try child(key).map { try Self.integer($0, what: "'\(key)'") } }

    func bool(_ key: String) throws -> Bool? {
        guard let node = child(key) else { return nil }
        switch try Self.scalar(node, what: "'\(key)'") {
        case "true": return true
        case "false": return false
        case let text: throw RecipeError("'\(key)' must be true or false, found '\(text)'", at: node.location)
        }
    }

    func choice<T: RawRepresentable & CaseIterable>(_ key: String, _ type: T.Type) throws -> T? where T.RawValue == String {
        guard let node = child(key) else { return nil }
        let text = try Self.scalar(node, what: "'\(key)'")
        guard let value = T(rawValue: text) else {
            throw RecipeError("'\(key)' must be one of \(T.allCases.map(\.rawValue).joined(separator: ", ")), found '\(text)'",
                              at: node.location)
        }
        return value
    }

    static func entries(_ node: SpecNode, what: String) throws -> [SpecNode.Entry] {
        guard case .mapping(let entries) = node.value else {
            throw RecipeError("expected a mapping for \(what), found \(node.kindName)", at: node.location)
        }
        return entries
    }

    static func list(_ node: SpecNode, what: String) throws -> [SpecNode] {
        guard case .sequence(let items) = node.value else {
            throw RecipeError("expected a list for \(what), found \(node.kindName)", at: node.location)
        }
        return items
    }

    static func scalar(_ node: SpecNode, what: String) throws -> String {
        guard case .scalar(let text, _) = node.value else {
            throw RecipeError("expected a value for \(what), found \(node.kindName)", at: node.location)
        }
        return text
    }

    static func integer(_ node: SpecNode, what: String) throws -> Int {
        guard case .scalar(let text, let quoted) = node.value, !quoted, let value = Int(text) else {
            throw RecipeError("\(what) must be an integer, found \(node.kindName)", at: node.location)
        }
        return value
    }
}
