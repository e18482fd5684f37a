import Foundation
import Recipe
import Testing

@Test func protocolWarningsPointAtTheirLines() throws {
    let recipe = try RecipeLoader.load(path: corpusPath("protocol-warnings.yaml"))
    let diagnostics = check(recipe, options: CheckOptions(inspectDataset: false))
    #expect(diagnostics.map(shortForm) == [
        "protocol-warnings.yaml:2:15: warning: ε written as 0.031 is 7.905/255, not 8/255; write 8/255 if that is the intended radius, or say which one a result uses",
        "protocol-warnings.yaml:4:1: warning: the model is randomized at inference (noise.at_eval) but attacks use no EOT (eval.eot = 1): gradients of one noise draw overestimate robustness; use eot ≥ 20",
        "protocol-warnings.yaml:6:26: warning: pgd10 runs 10 steps: a robustness claim needs at least 20",
        "protocol-warnings.yaml:6:44: warning: pgd10 starts at the clean input: without a random start PGD overestimates robustness",
        "protocol-warnings.yaml:7:34: warning: checkpoints are selected on the test split: the reported number is then optimistic; select on 'val' (data.val > 0)",
    ])
}

@Test func semanticErrorsPointAtTheirValues() throws {
    let recipe = try RecipeLoader.load(path: corpusPath("semantic-errors.yaml"))
    let diagnostics = check(recipe, options: CheckOptions(inspectDataset: false))
    #expect(diagnostics.map(shortForm) == [
        "semantic-errors.yaml:4:9: error: the step (4/255) is larger than ε (2/255)",
        "semantic-errors.yaml:10:18: error: term 'kl(J(clean), J(adversarial))' compares J(clean), a Taylor term in the weight noise u, but noise is off (noise.enabled false or sigma 0): it would be identically zero",
        "semantic-errors.yaml:10:58: error: the weight of term 'kl(J(clean), J(adversarial))' (eta / 0) is not a finite number",
    ])
}

@Test func theWrittenFractionIsKeptAndRendered() throws {
    let recipe = try RecipeLoader.load(path: corpusPath("good.yaml"), overrides: ["threat.eps=16/255"])
    #expect(recipe.threat.eps.text == "16/255")
    #expect(recipe.threat.eps.value == 16.0 / 255.0)
    #expect(renderYAML(recipe).contains("  eps: 16/255  # = 0.0627451\n"))
    #expect(check(recipe, options: CheckOptions(inspectDataset: false)).isEmpty)
}

@Test func validationSplitMustExistToSelectOnIt() throws {
    let recipe = try RecipeLoader.load(path: corpusPath("good.yaml"), overrides: ["data.val=0"])
    let diagnostics = check(recipe, options: CheckOptions(inspectDataset: false))
    #expect(diagnostics.map(\.message) == ["'eval.select.split' is val but data.val is 0: there is no validation split"])
    #expect(diagnostics.first?.location.file == "--set")
}

/// A dataset folder with a manifest, in a fresh temporary directory.
private func datasetFolder(manifest: String?) throws -> String {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("rat-recipe-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    if let manifest { try manifest.write(to: folder.appendingPathComponent("manifest.json"), atomically: true, encoding: .utf8) }
    return folder.path
}

@Test func aMissingDatasetIsAnError() throws {
    let folder = try datasetFolder(manifest: nil)
    let recipe = try RecipeLoader.load(path: corpusPath("good.yaml"), overrides: ["data.path=\(folder)"])
    let diagnostics = check(recipe)
    #expect(diagnostics.map(\.message) == ["dataset not found at '\(folder)' (no manifest.json there); prepare it with "
                                           + "`rat data prepare --format <format> <source> \(folder)`, or check the recipe alone with --no-data"])
    #expect(diagnostics.first?.severity == .error)
}

@Test func theManifestsClassesMustMatchTheModel() throws {
    let folder = try datasetFolder(manifest: #"{"classes": 10, "channels": 3, "height": 32, "width": 32, "format": "future"}"#)
    let matching = try RecipeLoader.load(path: corpusPath("good.yaml"), overrides: ["data.path=\(folder)", "model.classes=10"])
    #expect(check(matching).isEmpty)
    let wrong = try RecipeLoader.load(path: corpusPath("good.yaml"), overrides: ["data.path=\(folder)", "model.classes=100"])
    #expect(check(wrong).map(shortForm) == ["--set:2:15: error: model.classes is 100 but the dataset at '\(folder)' has 10 classes"])
}

@Test func aManifestWithUnreadableFieldsIsTolerated() throws {
    let folder = try datasetFolder(manifest: #"{"classes": "ten", "shape": [1, 28, 28]}"#)
    let recipe = try RecipeLoader.load(path: corpusPath("good.yaml"), overrides: ["data.path=\(folder)", "model.classes=100"])
    #expect(check(recipe).isEmpty)
    let garbage = try datasetFolder(manifest: "not json")
    let other = try RecipeLoader.load(path: corpusPath("good.yaml"), overrides: ["data.path=\(garbage)"])
    #expect(check(other).isEmpty)
}

@Test func aCIFARModelOnGrayscaleDataIsFlagged() throws {
    let folder = try datasetFolder(manifest: #"{"classes": 10, "channels": 1, "height": 28, "width": 28}"#)
    let recipe = try RecipeLoader.load(path: corpusPath("good.yaml"), overrides: ["data.path=\(folder)"])
    #expect(check(recipe).map(\.message) == ["preact-resnet18 is the CIFAR variant (3×32×32 inputs); the dataset is 1×28×28"])
}

@Test func theShardManifestIsReadForClassesAndSplits() throws {
    // The manifest as `rat data prepare` writes it: `class_count` and a `splits` table.
    let folder = try datasetFolder(manifest: #"{"class_count": 7, "channels": 3, "height": 32, "width": 32, "splits": {"train": {}, "test": {}}}"#)
    let recipe = try RecipeLoader.load(path: corpusPath("good.yaml"), overrides: ["data.path=\(folder)", "model.classes=10", "data.val=0"])
    let messages = check(recipe).filter { $0.severity == .error }.map(\.message)
    #expect(messages.contains("the dataset at '\(folder)' has no 'val' split (it has: test, train)"))
    #expect(messages.contains("model.classes is 10 but the dataset at '\(folder)' has 7 classes"))
    // With data.val > 0 the trainer carves val out of train: not missing.
    let carving = try RecipeLoader.load(path: corpusPath("good.yaml"), overrides: ["data.path=\(folder)", "data.val=100"])
    #expect(!check(carving).contains { $0.message.contains("no 'val' split") })
}
