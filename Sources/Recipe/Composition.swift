import Foundation

/// Loads recipes: reads the file, follows `extends` (deep merge of mappings, lists
/// replaced), applies `--set key.path=value` overrides, and maps the result to a `Recipe`.
public enum RecipeLoader {
    /// - Parameters:
    ///   - path: the recipe file; `extends` paths are relative to the file that writes them.
    ///   - overrides: `key.path=value` strings (value in YAML: `0.3`, `8/255`, `[pgd20]`,
    ///     `{kind: cosine}`); a list item is addressed by its index (`eval.attacks.0.steps=50`).
    ///   - requireSections: false loads a fragment (a `recipes/base/` piece) without `data`/`model`.
    public static func load(path: String, overrides: [String] = [], requireSections: Bool = true) throws -> Recipe {
        var tree = try resolvedTree(path: path, chain: [])
        for (index, override) in overrides.enumerated() {
            tree = try apply(override: override, number: index + 1, to: tree)
        }
        return try Recipe(from: tree, defaultName: fileStem(path), requireSections: requireSections)
    }

    /// Loads recipe text held in memory, labelled `file` in messages; `extends` is resolved
    /// relative to `file`'s folder.
    public static func load(text: String, file: String, overrides: [String] = [],
                            requireSections: Bool = true) throws -> Recipe {
        var tree = try resolve(YAMLReader.parse(text, file: file), file: file, chain: [canonical(file)])
        for (index, override) in overrides.enumerated() {
            tree = try apply(override: override, number: index + 1, to: tree)
        }
        return try Recipe(from: tree, defaultName: fileStem(file), requireSections: requireSections)
    }

    // MARK: - extends

    private static func resolvedTree(path: String, chain: [String], from site: SourceLocation? = nil) throws -> YAMLNode {
        let here = site ?? SourceLocation(file: path, line: 1, column: 1)
        guard let data = FileManager.default.contents(atPath: path) else {
            let what = site == nil ? "recipe" : "recipe named by 'extends'"
            throw RecipeError("cannot read the \(what) at '\(path)'", at: here)
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw RecipeError("'\(path)' is not UTF-8 text", at: here)
        }
        return try resolve(YAMLReader.parse(text, file: path), file: path, chain: chain + [canonical(path)])
    }

    /// Replaces `extends` by the parents' resolved trees (a path or a list of paths, merged
    /// in order, later ones winning) with this file's keys merged on top.
    private static func resolve(_ tree: YAMLNode, file: String, chain: [String]) throws -> YAMLNode {
        guard case .mapping(let entries) = tree.value,
              let extendsEntry = entries.first(where: { $0.key == "extends" }) else { return tree }
        let parentNodes = readListOrScalar(extendsEntry.value)
        var merged: YAMLNode?
        for (index, parentNode) in parentNodes.enumerated() {
            let keyPath = parentNodes.count == 1 && !isSequence(extendsEntry.value) ? "extends" : "extends.\(index)"
            let relative = try readString(parentNode, path: keyPath)
            let parentPath = joinPath(directory(of: file), relative)
            let parentKey = canonical(parentPath)
            if let start = chain.firstIndex(of: parentKey) {
                let cycle = (chain[start...] + [parentKey]).map { displayName($0) }.joined(separator: " → ")
                throw RecipeError("'extends' makes a cycle: \(cycle)", at: parentNode.location)
            }
            let parent = try resolvedTree(path: parentPath, chain: chain, from: parentNode.location)
            // Merging would silently drop anything but a mapping: say so where it is written.
            guard case .mapping = parent.value else {
                throw RecipeError("'\(relative)', named by 'extends' at \(parentNode.location), holds \(parent.kindName), "
                                  + "not a mapping of recipe sections (data:, model:, …)", at: parent.location)
            }
            merged = merged.map { merge($0, parent) } ?? parent
        }
        var child = tree
        child.value = .mapping(entries.filter { $0.key != "extends" })
        return merged.map { merge($0, child) } ?? child
    }

    private static func isSequence(_ node: YAMLNode) -> Bool {
        if case .sequence = node.value { return true }
        return false
    }

    /// Mappings merge key by key (recursively); anything else — lists included — is replaced.
    /// The merged mapping keeps the child's location so "missing section" points at the top file.
    static func merge(_ base: YAMLNode, _ over: YAMLNode) -> YAMLNode {
        guard case .mapping(var merged) = base.value, case .mapping(let overEntries) = over.value else { return over }
        var positions = Dictionary(merged.enumerated().map { ($0.element.key, $0.offset) }) { first, _ in first }
        for entry in overEntries {
            if let index = positions[entry.key] {
                merged[index] = YAMLEntry(key: entry.key, keyLocation: entry.keyLocation,
                                          value: merge(merged[index].value, entry.value))
            } else {
                positions[entry.key] = merged.count
                merged.append(entry)
            }
        }
        return YAMLNode(value: .mapping(merged), location: over.location)
    }

    // MARK: - overrides

    /// Sets one `key.path=value`. Its locations read `--set:<n>:<column>` (n-th override),
    /// so a type error in the value names both the key and where it was typed.
    static func apply(override: String, number: Int, to tree: YAMLNode) throws -> YAMLNode {
        let file = "--set"
        guard let equals = override.firstIndex(of: "=") else {
            throw RecipeError("override '\(override)' must look like key.path=value",
                              at: SourceLocation(file: file, line: number, column: 1))
        }
        let keyText = String(override[..<equals])
        let valueText = String(override[override.index(after: equals)...])
        var components: [(String, SourceLocation)] = []
        var column = 1
        for component in keyText.split(separator: ".", omittingEmptySubsequences: false) {
            let location = SourceLocation(file: file, line: number, column: column)
            guard !component.isEmpty else {
                throw RecipeError("override '\(override)' has an empty key component", at: location)
            }
            components.append((String(component), location))
            column += component.count + 1
        }
        if components.first?.0 == "extends" {
            throw RecipeError("'extends' cannot be overridden: write a recipe that extends the other",
                              at: components[0].1)
        }
        let valueColumn = keyText.count + 2
        var value = try YAMLReader.parse(valueText, file: file)
        value = relocated(value, line: number, columnOffset: valueColumn - 1)
        if valueText.trimmingSpaces().isEmpty {
            value = YAMLNode(value: .scalar(YAMLScalar(text: "", quoted: false)),
                             location: SourceLocation(file: file, line: number, column: valueColumn))
        }
        return try set(value, at: components[...], in: tree, path: "")
    }

    private static func set(_ value: YAMLNode, at components: ArraySlice<(String, SourceLocation)>,
                            in node: YAMLNode, path: String) throws -> YAMLNode {
        guard let (key, keyLocation) = components.first else { return value }
        let rest = components.dropFirst()
        let childPath = path.isEmpty ? key : "\(path).\(key)"
        switch node.value {
        case .mapping(var entries):
            if let index = entries.firstIndex(where: { $0.key == key }) {
                entries[index].value = try set(value, at: rest, in: entries[index].value, path: childPath)
            } else {
                let empty = YAMLNode.emptyMapping(at: keyLocation)
                entries.append(YAMLEntry(key: key, keyLocation: keyLocation,
                                         value: try set(value, at: rest, in: empty, path: childPath)))
            }
            return YAMLNode(value: .mapping(entries), location: node.location)
        case .sequence(var items):
            guard let index = Int(key), items.indices.contains(index) else {
                throw RecipeError("'\(path)' is a list of \(items.count); '\(key)' is not an index into it", at: keyLocation)
            }
            items[index] = try set(value, at: rest, in: items[index], path: childPath)
            return YAMLNode(value: .sequence(items), location: node.location)
        case .scalar(let scalar) where scalar.isNull:
            return try set(value, at: components, in: .emptyMapping(at: node.location), path: path)
        case .scalar(let scalar):
            throw RecipeError("cannot set '\(childPath)': '\(path)' is a value ('\(scalar.text)'), not a section",
                              at: keyLocation)
        }
    }

    private static func relocated(_ node: YAMLNode, line: Int, columnOffset: Int) -> YAMLNode {
        var copy = node
        copy.location = SourceLocation(file: node.location.file, line: line, column: node.location.column + columnOffset)
        switch node.value {
        case .scalar: break
        case .mapping(let entries):
            copy.value = .mapping(entries.map { entry in
                var moved = entry
                moved.keyLocation = SourceLocation(file: entry.keyLocation.file, line: line,
                                                   column: entry.keyLocation.column + columnOffset)
                moved.value = relocated(entry.value, line: line, columnOffset: columnOffset)
                return moved
            })
        case .sequence(let items):
            copy.value = .sequence(items.map { relocated($0, line: line, columnOffset: columnOffset) })
        }
        return copy
    }

    // MARK: - paths

    static func fileStem(_ path: String) -> String {
        let last = path.split(separator: "/").last.map(String.init) ?? path
        guard let dot = last.lastIndex(of: "."), dot != last.startIndex else { return last }
        return String(last[..<dot])
    }

    private static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "" }
        return String(path[..<slash])
    }

    /// Joins and removes `.`/`..` lexically, keeping a relative path relative (messages show what the user wrote).
    private static func joinPath(_ directory: String, _ relative: String) -> String {
        if relative.hasPrefix("/") || directory.isEmpty { return relative }
        var parts: [Substring] = []
        let absolute = directory.hasPrefix("/")
        for part in (directory + "/" + relative).split(separator: "/") {
            if part == "." { continue }
            if part == "..", let last = parts.last, last != ".." { parts.removeLast(); continue }
            parts.append(part)
        }
        return (absolute ? "/" : "") + parts.joined(separator: "/")
    }

    private static func canonical(_ path: String) -> String {
        URL(fileURLWithPath: path).standardizedFileURL.resolvingSymlinksInPath().path
    }

    private static func displayName(_ canonicalPath: String) -> String {
        canonicalPath.split(separator: "/").last.map(String.init) ?? canonicalPath
    }
}
