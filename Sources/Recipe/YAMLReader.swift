import CYAML

/// Reads YAML text into a located node tree with libyaml's event API.
/// Anchors and aliases are resolved (an alias becomes a copy of its anchored node);
/// duplicate keys, multiple documents and non-scalar keys are errors.
enum YAMLReader {
    /// Parses `text`; `file` is only used to label locations. An empty document reads as an empty mapping.
    static func parse(_ text: String, file: String) throws -> YAMLNode {
        var bytes = Array(text.utf8)
        // libyaml reads a UTF-8 byte-order mark itself, but only at the very start; strip it so
        // columns on line 1 count from the first visible character either way.
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes.removeFirst(3) }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)

        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else {
            throw RecipeError("cannot initialize the YAML parser", at: SourceLocation(file: file, line: 1, column: 1))
        }
        defer { yaml_parser_delete(&parser) }

        return try bytes.withUnsafeBufferPointer { buffer -> YAMLNode in
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
            var builder = TreeBuilder(file: file)
            while true {
                var event = yaml_event_t()
                guard yaml_parser_parse(&parser, &event) == 1 else {
                    throw syntaxError(parser, file: file, lines: lines)
                }
                defer { yaml_event_delete(&event) }
                if event.type == YAML_STREAM_END_EVENT { break }
                try builder.consume(event)
            }
            return builder.root ?? .emptyMapping(at: SourceLocation(file: file, line: 1, column: 1))
        }
    }

    /// libyaml's problem and its mark, as `file:line:col` and a sentence a user can act on.
    private static func syntaxError(_ parser: yaml_parser_t, file: String, lines: [Substring]) -> RecipeError {
        let mark = parser.problem_mark
        let location = SourceLocation(file: file, line: Int(mark.line) + 1, column: Int(mark.column) + 1)
        let problem = parser.problem.map { String(cString: $0) } ?? "unknown problem"
        // A tab at the problem mark is by far the most common cause of "cannot start any token".
        let lineIndex = Int(mark.line), columnIndex = Int(mark.column)
        if lineIndex < lines.count, columnIndex < lines[lineIndex].utf8.count,
           Array(lines[lineIndex].utf8)[columnIndex] == UInt8(ascii: "\t") {
            return RecipeError("invalid YAML: a tab character; YAML indents with spaces only", at: location)
        }
        var message = "invalid YAML: \(problem)"
        if let context = parser.context.map({ String(cString: $0) }) {
            let contextMark = parser.context_mark
            message += " (\(context) at line \(contextMark.line + 1), column \(contextMark.column + 1))"
        }
        return RecipeError(message, at: location)
    }
}

/// Turns the flat event stream into a tree, one open collection per stack level. Entries are
/// appended in place and keys looked up in a dictionary, so a mapping of n keys reads in O(n).
private struct TreeBuilder {
    private struct Open {
        var isMapping: Bool
        var location: SourceLocation
        var anchor: String?
        var entries: [YAMLEntry] = []
        var items: [YAMLNode] = []
        var pendingKey: (String, SourceLocation)?
        /// Where each key of a mapping was first written (duplicate detection).
        var keyLocations: [String: SourceLocation] = [:]
    }

    static let maximumDepth = 64

    let file: String
    private var stack: [Open] = []
    private var anchors: [String: YAMLNode] = [:]
    private(set) var root: YAMLNode?
    private var documents = 0

    init(file: String) { self.file = file }

    mutating func consume(_ event: yaml_event_t) throws {
        let location = SourceLocation(file: file, line: Int(event.start_mark.line) + 1,
                                      column: Int(event.start_mark.column) + 1)
        switch event.type {
        case YAML_DOCUMENT_START_EVENT:
            documents += 1
            if documents > 1 {
                throw RecipeError("a recipe is one YAML document; found a second one ('---')", at: location)
            }
        case YAML_SCALAR_EVENT:
            let scalar = event.data.scalar
            let text = string(scalar.value, length: scalar.length)
            let quoted = scalar.style != YAML_PLAIN_SCALAR_STYLE && scalar.style != YAML_ANY_SCALAR_STYLE
            let node = YAMLNode(value: .scalar(YAMLScalar(text: text, quoted: quoted)), location: location)
            if let anchor = scalar.anchor { anchors[String(cString: anchor)] = node }
            try add(node)
        case YAML_ALIAS_EVENT:
            let name = event.data.alias.anchor.map { String(cString: $0) } ?? ""
            guard var node = anchors[name] else {
                throw RecipeError("unknown alias '*\(name)'", at: location)
            }
            node.location = location
            try add(node)
        case YAML_MAPPING_START_EVENT where stack.count >= TreeBuilder.maximumDepth,
             YAML_SEQUENCE_START_EVENT where stack.count >= TreeBuilder.maximumDepth:
            // Recipes are a few levels deep; a bound keeps later recursive passes off the stack limit.
            throw RecipeError("nesting deeper than \(TreeBuilder.maximumDepth) levels", at: location)
        case YAML_MAPPING_START_EVENT:
            stack.append(Open(isMapping: true, location: location,
                              anchor: event.data.mapping_start.anchor.map { String(cString: $0) }))
        case YAML_SEQUENCE_START_EVENT:
            stack.append(Open(isMapping: false, location: location,
                              anchor: event.data.sequence_start.anchor.map { String(cString: $0) }))
        case YAML_MAPPING_END_EVENT, YAML_SEQUENCE_END_EVENT:
            guard let open = stack.popLast() else { return }
            let node = YAMLNode(value: open.isMapping ? .mapping(open.entries) : .sequence(open.items), location: open.location)
            if let anchor = open.anchor { anchors[anchor] = node }
            try add(node)
        default:
            break
        }
    }

    private mutating func add(_ node: YAMLNode) throws {
        guard !stack.isEmpty else {
            root = node
            return
        }
        let top = stack.count - 1
        guard stack[top].isMapping else {
            stack[top].items.append(node)
            return
        }
        if let (key, keyLocation) = stack[top].pendingKey {
            stack[top].entries.append(YAMLEntry(key: key, keyLocation: keyLocation, value: node))
            stack[top].pendingKey = nil
            return
        }
        guard case .scalar(let scalar) = node.value else {
            throw RecipeError("expected a plain key, found \(node.kindName)", at: node.location)
        }
        if let first = stack[top].keyLocations.updateValue(node.location, forKey: scalar.text) {
            throw RecipeError("duplicate key '\(scalar.text)' (first written at line \(first.line))", at: node.location)
        }
        stack[top].pendingKey = (scalar.text, node.location)
    }

    private func string(_ pointer: UnsafeMutablePointer<yaml_char_t>?, length: Int) -> String {
        guard let pointer else { return "" }
        return String(decoding: UnsafeBufferPointer(start: pointer, count: length), as: UTF8.self)
    }
}
