import Foundation
import Recipe
import Testing

// A recipe with 100 000 keys in one mapping reads in linear time (the reader, the mapping
// reader and `extends` merging used to compare every key with every other). No timing is
// asserted: these check the result on an input that took minutes when it was quadratic.

private func writeTemporary(_ name: String, _ text: String) throws -> String {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("rat-large-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    let path = folder.appendingPathComponent(name).path
    try text.write(toFile: path, atomically: true, encoding: .utf8)
    return path
}

private func params(_ count: Int, indent: String = "    ") -> String {
    (0..<count).map { "\(indent)p\($0): \($0)\n" }.joined()
}

@Test("100 000 loss parameters, merged over an extended recipe, all load with their values")
func manyLossParameters() throws {
    let count = 100_000
    let parent = try writeTemporary("parent.yaml", "loss:\n  params:\n" + params(count))
    let child = try writeTemporary("child.yaml", """
        extends: [\(parent)]
        data: {name: cifar10, path: data/cifar10}
        model: {name: small-cnn}
        loss:
          params:
            p7: 70
            extra: 1.5

        """)
    defer {
        try? FileManager.default.removeItem(atPath: (parent as NSString).deletingLastPathComponent)
        try? FileManager.default.removeItem(atPath: (child as NSString).deletingLastPathComponent)
    }
    let recipe = try RecipeLoader.load(path: child)
    // Without terms, the paper's terms and parameters (beta, eta) are kept under the recipe's.
    #expect(recipe.loss.params.count == count + 1 + 2)
    #expect(recipe.loss.params["p7"] == 70, "the child's value wins")
    #expect(recipe.loss.params["p99999"] == 99_999)
    #expect(recipe.loss.params["extra"] == 1.5)
    #expect(recipe.locations.location(of: "loss.params.p99999").line == count + 2)
}

@Test("100 000 keys where keys are fixed: the first unknown one is refused at its line; a duplicate at the end is found")
func manyUnknownKeysAndADuplicate() throws {
    let count = 100_000
    let unknown = try writeTemporary("unknown.yaml", "data: {name: cifar10, path: data/cifar10}\nmodel: {name: small-cnn}\nthreat:\n"
                                     + params(count, indent: "  "))
    let error = loadError(unknown)
    #expect(error.map { "\($0.location.line):\($0.location.column)" } == "4:3")
    #expect(error?.message.contains("unknown key 'p0' in 'threat'") == true, "\(error?.message ?? "")")

    let duplicate = try writeTemporary("duplicate.yaml", "loss:\n  params:\n" + params(count) + "    p5: 1\n")
    let duplicateError = loadError(duplicate, requireSections: false)
    #expect(duplicateError?.location.line == count + 3)
    #expect(duplicateError?.message == "duplicate key 'p5' (first written at line 8)")
    for path in [unknown, duplicate] { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
}

@Test("an extends file that is not a mapping is an error at its file:line:col, naming where extends was written")
func extendsOfANonMapping() throws {
    let parent = try writeTemporary("list.yaml", "# a list, not sections\n- data\n- model\n")
    let child = try writeTemporary("child.yaml", "extends: \(parent)\ndata: {name: cifar10, path: data/cifar10}\nmodel: {name: small-cnn}\n")
    defer {
        try? FileManager.default.removeItem(atPath: (parent as NSString).deletingLastPathComponent)
        try? FileManager.default.removeItem(atPath: (child as NSString).deletingLastPathComponent)
    }
    let error = loadError(child)
    #expect(error?.location == SourceLocation(file: parent, line: 2, column: 1))
    #expect(error?.message.contains("holds a list, not a mapping") == true, "\(error?.message ?? "")")
    #expect(error?.message.contains("\(child):1:10") == true, "names the extends line: \(error?.message ?? "")")
}
