import Foundation
import Recipe
import Testing

/// The documentation against the code: every recipe key that README.md, DEVELOPERS.md or
/// docs/*.md names exists in the schema, and every relative link points at a file of the
/// repository. The schema is asked through the public loader: a documented key path is set
/// with an override, the way `--set` does, and the load must not fail for a missing key.
@Suite struct DocsKeysTests {
    /// A complete recipe whose lists hold mappings, so that indexed paths
    /// (`loss.terms.2.weight`, `eval.attacks.0.steps`) address real items.
    static let baseRecipe = """
        data: {name: cifar10, path: data/cifar10}
        model: {name: small-cnn}
        loss:
          params: {beta: 6, eta: 0.2}
          terms:
            - {name: natural, kind: ce, on: clean}
            - {name: robust, kind: kl, on: [clean, adversarial], weight: beta}
            - {name: taylor1, kind: kl, on: ["J(clean)", "J(adversarial)"], weight: eta}
            - {name: taylor2, kind: kl, on: ["H(clean)", "H(adversarial)"], weight: eta / 2}
        eval:
          attacks: [{kind: pgd, steps: 20}, {kind: cw, steps: 20}]
        """

    /// Why `keyPath` is not a key of the schema, or nil when it is. The value set is a
    /// probe: a type or range error in it still proves the key was recognised. The probe is
    /// a scalar, so "found a mapping" means the override went below a value (`seed.value`).
    static func missingKeyReason(_ keyPath: String) -> String? {
        do {
            _ = try RecipeLoader.load(text: baseRecipe, file: "docs-keys-base.yaml", overrides: ["\(keyPath)=0"])
            return nil
        } catch let error as RecipeError {
            let signs = ["unknown key", "is not an index into it", "not a section", "does not apply to",
                         "found a mapping"]
            return signs.contains { error.message.contains($0) } ? error.message : nil
        } catch {
            return "\(error)"
        }
    }

    @Test func theProbeRecognisesKeysAndRejectsMissingOnes() throws {
        _ = try RecipeLoader.load(text: Self.baseRecipe, file: "docs-keys-base.yaml")
        for key in ["threat.eps", "attack.model_mode", "eval.select.metric", "loss.terms.2.weight", "eval.attacks.0.steps"] {
            #expect(Self.missingKeyReason(key) == nil, "\(key)")
        }
        for key in ["threat.bogus", "attack.mode", "eval.select.bogus", "loss.terms.0.bogus", "eval.attacks.0.bogus",
                    "loss.terms.9.weight", "seed.value"] {
            #expect(Self.missingKeyReason(key) != nil, "\(key) should be reported missing")
        }
    }

    @Test func everyRecipeKeyNamedInTheDocsExists() throws {
        let references = try documentedKeyReferences()
        // The extraction must find the docs' keys, or this test would pass on nothing.
        #expect(references.count >= 20, "found only \(references.count) key references")
        #expect(references.contains { $0.key == "attack.model_mode" })
        #expect(references.contains { $0.key == "eval.select.metric" })
        for reference in references {
            if let reason = Self.missingKeyReason(reference.key) {
                Issue.record("\(reference.file):\(reference.line): '\(reference.key)' is not a recipe key (\(reason))")
            }
        }
    }

    @Test func everyRelativeLinkPointsIntoTheRepository() throws {
        let root = repositoryRoot().standardizedFileURL
        var checked = 0
        for file in markdownFiles() {
            let text = try String(contentsOf: file, encoding: .utf8)
            for (target, line) in markdownLinks(in: text) {
                if target.contains("://") || target.hasPrefix("mailto:") { continue }
                let place = "\(relativePath(file)):\(line)"
                let parts = target.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
                let destination = parts[0].isEmpty
                    ? file : file.deletingLastPathComponent().appendingPathComponent(parts[0]).standardizedFileURL
                checked += 1
                #expect(destination.path.hasPrefix(root.path + "/"), "\(place): '\(target)' points outside the repository")
                guard FileManager.default.fileExists(atPath: destination.path) else {
                    Issue.record("\(place): '\(target)' does not exist")
                    continue
                }
                if parts.count == 2, destination.pathExtension == "md" {
                    let headings = headingAnchors(in: try String(contentsOf: destination, encoding: .utf8))
                    if !headings.contains(parts[1]) { Issue.record("\(place): no heading '#\(parts[1])' in \(parts[0])") }
                }
            }
        }
        #expect(checked >= 10, "found only \(checked) relative links")
    }

    /// The notes the docs were written from are not part of the repository.
    @Test func noDocumentCitesFilesOutsideTheRepository() throws {
        for file in markdownFiles() {
            let text = try String(contentsOf: file, encoding: .utf8)
            #expect(!text.contains("METHOD.md"), "\(relativePath(file)) cites METHOD.md; cite docs/method.md")
        }
    }
}

// MARK: - Reading the docs

struct KeyReference {
    var file: String
    var line: Int
    var key: String
}

/// README.md, DEVELOPERS.md and docs/*.md.
func markdownFiles() -> [URL] {
    let root = repositoryRoot()
    let docs = root.appendingPathComponent("docs")
    let names = (try? FileManager.default.contentsOfDirectory(atPath: docs.path)) ?? []
    return [root.appendingPathComponent("README.md"), root.appendingPathComponent("DEVELOPERS.md")]
        + names.filter { $0.hasSuffix(".md") }.sorted().map { docs.appendingPathComponent($0) }
}

func relativePath(_ file: URL) -> String {
    String(file.standardizedFileURL.path.dropFirst(repositoryRoot().standardizedFileURL.path.count + 1))
}

/// The recipe's top-level sections, read from what `rat config show` prints for the defaults.
func recipeSections() -> [String] {
    renderYAML(Recipe(name: "defaults")).split(separator: "\n").compactMap { line in
        guard let first = line.first, first.isLetter, let colon = line.firstIndex(of: ":") else { return nil }
        return String(line[..<colon])
    }
}

/// Key paths the docs name:
/// - in inline code (`threat.eps`, `attack.model_mode: train`, `--set loss.params.eta=0.3`):
///   dotted paths whose first component is a recipe section, not part of a file name
///   (`docs/data.md`) or a call (`model.train()`);
/// - in fenced code: the keys of `--set key=value` arguments;
/// - every key of the YAML block under the heading "## Schema" of docs/recipes.md.
func documentedKeyReferences() throws -> [KeyReference] {
    let sections = recipeSections()
    #expect(sections.contains("threat") && sections.contains("eval"), "sections read from renderYAML: \(sections)")
    let path = try NSRegularExpression(
        pattern: "(?<![\\w./-])((?:\(sections.joined(separator: "|")))(?:\\.[A-Za-z0-9_]+)+)(?![\\w(])")
    let inlineCode = try NSRegularExpression(pattern: "`([^`\\n]+)`")
    let setArgument = try NSRegularExpression(pattern: "--set\\s+([^\\s=]+)=")
    let fileExtensions: Set<String> = ["md", "swift", "yaml", "yml", "json", "jsonl", "safetensors", "py", "sh", "txt"]

    var references: [KeyReference] = []
    for file in markdownFiles() {
        let name = relativePath(file)
        let text = try String(contentsOf: file, encoding: .utf8)
        var inFence = false
        for (index, line) in text.components(separatedBy: "\n").enumerated() {
            if line.trimmingCharacters(in: .whitespaces).hasPrefix("```") { inFence.toggle(); continue }
            let spans = inFence ? captures(setArgument, in: line) : captures(inlineCode, in: line)
            for span in spans {
                for key in captures(path, in: span) where !fileExtensions.contains(String(key.split(separator: ".").last!)) {
                    references.append(KeyReference(file: name, line: index + 1, key: key))
                }
            }
        }
        if name == "docs/recipes.md" {
            let schema = schemaBlockKeys(text)
            #expect(schema.count >= 40, "the schema block of docs/recipes.md gave only \(schema.count) keys")
            references += schema.map { KeyReference(file: name, line: $0.line, key: $0.key) }
        }
    }
    return references
}

/// Key paths of the ```yaml block after "## Schema": block keys by indentation, and the keys
/// of a flow mapping value (`awp: {enabled: false, gamma: 0.005}`) one level below. Comments
/// are skipped, so a commented-out example names no key.
func schemaBlockKeys(_ text: String) -> [(line: Int, key: String)] {
    let lines = text.components(separatedBy: "\n")
    guard let heading = lines.firstIndex(where: { $0.hasPrefix("## Schema") }),
          let start = lines[heading...].firstIndex(where: { $0.hasPrefix("```yaml") }),
          let end = lines[(start + 1)...].firstIndex(where: { $0.hasPrefix("```") }) else { return [] }
    var keys: [(line: Int, key: String)] = []
    var stack: [(indent: Int, key: String)] = []
    for index in (start + 1)..<end {
        var line = lines[index]
        if let comment = line.range(of: " #") ?? (line.trimmingCharacters(in: .whitespaces).hasPrefix("#") ? line.range(of: "#") : nil) {
            line = String(line[..<comment.lowerBound])
        }
        guard let colon = line.firstIndex(of: ":") else { continue }
        let indent = line.prefix { $0 == " " }.count
        let key = line[..<colon].trimmingCharacters(in: .whitespaces)
        guard !key.isEmpty, key.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else { continue }
        while let last = stack.last, last.indent >= indent { stack.removeLast() }
        let keyPath = (stack.map(\.key) + [key]).joined(separator: ".")
        keys.append((index + 1, keyPath))
        stack.append((indent, key))
        let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        if value.hasPrefix("{") {
            let flowKeys = try! NSRegularExpression(pattern: "([A-Za-z_][A-Za-z0-9_]*):")
            for child in captures(flowKeys, in: value) { keys.append((index + 1, "\(keyPath).\(child)")) }
        }
    }
    return keys
}

/// `[text](target)` links outside fenced code, with their line numbers.
func markdownLinks(in text: String) -> [(target: String, line: Int)] {
    let link = try! NSRegularExpression(pattern: "\\]\\(([^)\\s]+)\\)")
    var links: [(String, Int)] = []
    var inFence = false
    for (index, line) in text.components(separatedBy: "\n").enumerated() {
        if line.trimmingCharacters(in: .whitespaces).hasPrefix("```") { inFence.toggle(); continue }
        if !inFence { links += captures(link, in: line).map { ($0, index + 1) } }
    }
    return links
}

/// GitHub's anchors for the headings outside fenced code: lower case, punctuation other
/// than '-' and '_' dropped, spaces as '-'.
func headingAnchors(in text: String) -> Set<String> {
    var anchors = Set<String>()
    var inFence = false
    for line in text.components(separatedBy: "\n") {
        if line.trimmingCharacters(in: .whitespaces).hasPrefix("```") { inFence.toggle(); continue }
        guard !inFence, line.hasPrefix("#") else { continue }
        let title = line.drop { $0 == "#" }.trimmingCharacters(in: .whitespaces).lowercased()
        anchors.insert(String(title.compactMap { character -> Character? in
            if character == " " { return "-" }
            return character.isLetter || character.isNumber || character == "-" || character == "_" ? character : nil
        }))
    }
    return anchors
}

/// The first capture group of every match.
func captures(_ expression: NSRegularExpression, in text: String) -> [String] {
    let range = NSRange(text.startIndex..., in: text)
    return expression.matches(in: text, range: range).compactMap { match in
        Range(match.range(at: 1), in: text).map { String(text[$0]) }
    }
}
