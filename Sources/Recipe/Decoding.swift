/// Typed reads from one YAML mapping of a recipe. Knows the mapping's key path (`threat`,
/// `eval.attacks.1`) so every message names the key, and rejects keys it does not know.
struct MappingReader {
    let node: YAMLNode
    let path: String
    let entries: [YAMLEntry]
    /// Key → index into `entries`: lookups stay O(1) in mappings of many keys (`loss.params`).
    private let index: [String: Int]

    /// Fails when `node` is not a mapping or holds a key outside `known`. A null node
    /// (`awp:` with nothing after it) reads as an empty mapping: the section's defaults.
    init(_ node: YAMLNode, path: String, known: [String]) throws {
        self.node = node
        self.path = path
        switch node.value {
        case .mapping(let entries):
            self.entries = entries
        case .scalar(let scalar) where scalar.isNull:
            self.entries = []
        default:
            let place = path.isEmpty ? "of sections (data:, model:, …) at the top level" : "for '\(path)'"
            throw RecipeError("expected a mapping \(place), found \(node.kindName)", at: node.location)
        }
        let knownKeys = Set(known)
        for entry in entries where !knownKeys.contains(entry.key) {
            let place = path.isEmpty ? "at the top level" : "in '\(path)'"
            throw RecipeError("unknown key '\(entry.key)' \(place)\(didYouMean(entry.key, among: known))",
                              at: entry.keyLocation)
        }
        // The reader rejects duplicate keys, so the first index of each key is its only one.
        index = Dictionary(entries.enumerated().map { ($0.element.key, $0.offset) }) { first, _ in first }
    }

    func has(_ key: String) -> Bool { index[key] != nil }

    func child(_ key: String) -> YAMLNode? { index[key].map { entries[$0].value } }

    func keyPath(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    func double(_ key: String, default fallback: Double) throws -> Double {
        guard let node = child(key) else { return fallback }
        return try readDouble(node, path: keyPath(key))
    }

    func number(_ key: String, default fallback: WrittenNumber) throws -> WrittenNumber {
        guard let node = child(key) else { return fallback }
        return try readNumber(node, path: keyPath(key))
    }

    func int(_ key: String, default fallback: Int) throws -> Int {
        guard let node = child(key) else { return fallback }
        return try readInt(node, path: keyPath(key))
    }

    func optionalInt(_ key: String) throws -> Int? {
        guard let node = child(key), !isNull(node) else { return nil }
        return try readInt(node, path: keyPath(key))
    }

    func bool(_ key: String, default fallback: Bool) throws -> Bool {
        guard let node = child(key) else { return fallback }
        return try readBool(node, path: keyPath(key))
    }

    func string(_ key: String, default fallback: String) throws -> String {
        guard let node = child(key) else { return fallback }
        return try readString(node, path: keyPath(key))
    }

    func optionalString(_ key: String) throws -> String? {
        guard let node = child(key), !isNull(node) else { return nil }
        return try readString(node, path: keyPath(key))
    }

    /// One of a closed set of words (`linf|l2`), with a did-you-mean for near misses.
    func choice<T: RawRepresentable & CaseIterable>(_ key: String, default fallback: T) throws -> T
    where T.RawValue == String {
        guard let node = child(key) else { return fallback }
        return try readChoice(node, path: keyPath(key))
    }
}

func isNull(_ node: YAMLNode) -> Bool {
    if case .scalar(let scalar) = node.value { return scalar.isNull }
    return false
}

func scalarText(_ node: YAMLNode, path: String, expected: String) throws -> String {
    guard case .scalar(let scalar) = node.value, !scalar.isNull else {
        throw RecipeError("expected \(expected) for '\(path)', found \(node.kindName)", at: node.location)
    }
    return scalar.text
}

func readNumber(_ node: YAMLNode, path: String) throws -> WrittenNumber {
    let text = try scalarText(node, path: path, expected: "a number")
    guard let value = try NumberSyntax.parse(text, at: node.location) else {
        throw RecipeError("expected a number (such as 0.1 or 8/255) for '\(path)', found '\(text)'", at: node.location)
    }
    return WrittenNumber(value: value, text: text.trimmingSpaces())
}

func readDouble(_ node: YAMLNode, path: String) throws -> Double {
    try readNumber(node, path: path).value
}

func readInt(_ node: YAMLNode, path: String) throws -> Int {
    let text = try scalarText(node, path: path, expected: "an integer")
    guard let value = NumberSyntax.integer(text) else {
        throw RecipeError("expected an integer for '\(path)', found '\(text)'", at: node.location)
    }
    return value
}

func readBool(_ node: YAMLNode, path: String) throws -> Bool {
    let text = try scalarText(node, path: path, expected: "true or false")
    if case .scalar(let scalar) = node.value, !scalar.quoted {
        if text == "true" || text == "True" { return true }
        if text == "false" || text == "False" { return false }
    }
    throw RecipeError("expected true or false for '\(path)', found '\(text)'", at: node.location)
}

func readString(_ node: YAMLNode, path: String) throws -> String {
    try scalarText(node, path: path, expected: "a string")
}

func readChoice<T: RawRepresentable & CaseIterable>(_ node: YAMLNode, path: String) throws -> T
where T.RawValue == String {
    let text = try scalarText(node, path: path, expected: "a word")
    if let value = T(rawValue: text) { return value }
    let known = T.allCases.map(\.rawValue)
    throw RecipeError("unknown value '\(text)' for '\(path)'\(didYouMean(text, among: known))", at: node.location)
}

func readSequence(_ node: YAMLNode, path: String) throws -> [YAMLNode] {
    if case .sequence(let items) = node.value { return items }
    throw RecipeError("expected a list for '\(path)', found \(node.kindName)", at: node.location)
}

/// A list where a single item may be written without brackets (`params: "*"`).
func readListOrScalar(_ node: YAMLNode) -> [YAMLNode] {
    if case .sequence(let items) = node.value { return items }
    return [node]
}
