/// A place in a recipe source: a file (or the `--set` override it came from), 1-based line and column.
public struct SourceLocation: Hashable, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    public var description: String { "\(file):\(line):\(column)" }

    /// The same line, `offset` characters to the right: used to point inside a scalar
    /// (a name in a weight expression, the bad half of a fraction).
    func shifted(by offset: Int) -> SourceLocation {
        SourceLocation(file: file, line: line, column: column + offset)
    }
}

/// A YAML scalar as written. `quoted` matters: `"8/255"` and `8/255` both read as numbers,
/// but `"true"` is a string and `true` is a Boolean.
struct YAMLScalar: Equatable {
    var text: String
    var quoted: Bool

    /// A plain `~`, `null` or an empty plain scalar: YAML's null.
    var isNull: Bool { !quoted && (text.isEmpty || text == "~" || text == "null" || text == "Null" || text == "NULL") }
}

struct YAMLEntry {
    var key: String
    var keyLocation: SourceLocation
    var value: YAMLNode
}

/// The YAML tree the recipe reader works on: every node keeps where it was written, so that
/// errors found long after parsing (a bad override, a step larger than ε) can still point at it.
struct YAMLNode {
    indirect enum Value {
        case scalar(YAMLScalar)
        case mapping([YAMLEntry])
        case sequence([YAMLNode])
    }

    var value: Value
    var location: SourceLocation

    var kindName: String {
        switch value {
        case .scalar(let scalar): return scalar.isNull ? "nothing (null)" : "a scalar '\(scalar.text)'"
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        }
    }

    var entries: [YAMLEntry]? {
        if case .mapping(let entries) = value { return entries }
        return nil
    }

    func entry(_ key: String) -> YAMLEntry? { entries?.first { $0.key == key } }

    static func emptyMapping(at location: SourceLocation) -> YAMLNode {
        YAMLNode(value: .mapping([]), location: location)
    }
}
