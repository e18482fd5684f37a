import Foundation
import Recipe
import Testing

/// Writes `files` (name → text) into a fresh temporary folder and returns the folder.
private func recipeFolder(_ files: [String: String]) throws -> URL {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("rat-compose-\(UUID().uuidString)")
    for (name, text) in files {
        let url = folder.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try text.write(to: url, atomically: true, encoding: .utf8)
    }
    return folder
}

@Test func mappingsMergeDeeplyAndListsAreReplaced() throws {
    let folder = try recipeFolder([
        "base/parent.yaml": """
            data: {path: data/cifar10, augment: {crop_padding: 4, horizontal_flip: false}}
            model: {name: wide-resnet, depth: 28}
            eval: {attacks: [pgd20, cw20, fgsm], select: {metric: cw20, split: val}}
            """,
        "child.yaml": """
            extends: base/parent.yaml
            data: {augment: {crop_padding: 2}}
            model: {width: 4}
            eval: {attacks: [cw50], select: {metric: cw50}}
            """,
    ])
    let recipe = try RecipeLoader.load(path: folder.appendingPathComponent("child.yaml").path)
    #expect(recipe.data.path == "data/cifar10")
    #expect(recipe.data.augment.cropPadding == 2 && recipe.data.augment.horizontalFlip == false)
    #expect(recipe.model.name == "wide-resnet" && recipe.model.options == ["depth": 28, "width": 4])
    #expect(recipe.eval.attacks.map(\.name) == ["cw50"])
    #expect(recipe.eval.select.split == .val)
    #expect(recipe.name == "child" && recipe.output == "runs/child")
}

@Test func aListOfParentsMergesInOrder() throws {
    let folder = try recipeFolder([
        "a.yaml": "data: {path: a}\nseed: 1\n",
        "b.yaml": "model: {name: vgg16}\nseed: 2\n",
        "c.yaml": "extends: [a.yaml, b.yaml]\noutput: out\n",
    ])
    let recipe = try RecipeLoader.load(path: folder.appendingPathComponent("c.yaml").path)
    #expect(recipe.data.path == "a" && recipe.model.name == "vgg16" && recipe.seed == 2 && recipe.output == "out")
}

@Test func sharedParentsAreNotCycles() throws {
    // A diamond (d → b, c → a) is fine; only a path back into the chain is a cycle.
    let folder = try recipeFolder([
        "a.yaml": "data: {path: a}\nmodel: {name: mlp}\n",
        "b.yaml": "extends: a.yaml\nseed: 1\n",
        "c.yaml": "extends: a.yaml\noutput: o\n",
        "d.yaml": "extends: [b.yaml, c.yaml]\n",
    ])
    let recipe = try RecipeLoader.load(path: folder.appendingPathComponent("d.yaml").path)
    #expect(recipe.seed == 1 && recipe.output == "o")
}

@Test func overridesAreTypedAndReachListItems() throws {
    let recipe = try RecipeLoader.load(path: corpusPath("good.yaml"), overrides: [
        "eval.attacks=[pgd20, {kind: cw, steps: 30, kappa: 20}]", "eval.attacks.1.steps=50",
        "threat.norm=l2", "noise.params=['*.conv*.weight', 'fc.*']", "schedule.lr={kind: cosine}", "awp.enabled=true",
    ])
    #expect(recipe.eval.attacks.map(\.name) == ["pgd20", "cw50"])
    #expect(recipe.eval.attacks[1].kappa == 20)
    #expect(recipe.threat.norm == .l2 && recipe.threat.eps == .fraction(128, 255))
    #expect(recipe.eval.attacks.allSatisfy { $0.norm == .l2 })
    #expect(recipe.noise.params == ["*.conv*.weight", "fc.*"])
    #expect(recipe.schedule.lr == .cosine(finalLR: 0))
    #expect(recipe.awp.enabled)
}

@Test func aShorthandAttackHasNoFieldsToSet() {
    #expect(throws: RecipeError("cannot set 'eval.attacks.0.steps': 'eval.attacks.0' is a value ('pgd20'), not a section",
                                at: SourceLocation(file: "--set", line: 2, column: 16))) {
        try RecipeLoader.load(path: corpusPath("good.yaml"), overrides: ["eval.attacks=[pgd20]", "eval.attacks.0.steps=50"])
    }
}

@Test func noiseParameterPatternsMatchPyTorchNames() {
    var noise = NoiseSpec()
    noise.params = ["*.conv*.weight", "linear.?eight"]
    #expect(noise.selects(parameter: "layer1.0.conv1.weight"))
    #expect(noise.selects(parameter: "stage2.block1.conv2.weight"))
    #expect(noise.selects(parameter: "linear.weight"))
    #expect(!noise.selects(parameter: "layer1.0.conv1.bias"))
    #expect(!noise.selects(parameter: "layer1.0.bn1.weight"))
    #expect(NoiseSpec().selects(parameter: "anything.at.all"))
}
