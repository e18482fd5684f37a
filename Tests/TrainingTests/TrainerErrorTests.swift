import Foundation
import Loader
import Recipe
import Testing
import Training

/// The quickstart recipe on the embedded data, with overrides, writing under a fresh folder.
func quickstart(_ overrides: [String], output: String) throws -> Recipe {
    try RecipeLoader.load(path: repositoryRoot + "/recipes/quickstart.yaml", overrides: [
        "data.path=\(repositoryRoot)/datasets/fashion-mnist-small", "schedule.batch=8", "threat.steps=1",
        "output=\(output)",
    ] + overrides)
}

func temporaryFolder(_ tag: String) -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent("rat-\(tag)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
}

func errorText(_ body: () throws -> Void) -> String? {
    do { try body(); return nil } catch { return "\(error)" }
}

@Test("a model that does not fit the data is refused, naming the key and what the model needs")
func modelDoesNotFitData() throws {
    let out = temporaryFolder("fit")
    let classes = errorText { _ = try Trainer(recipe: try quickstart(["model.classes=100"], output: out)) { _ in } }
    #expect(classes?.contains("model.classes is 100 but the dataset has 10 classes") == true)
    let size = errorText { _ = try Trainer(recipe: try quickstart(["model.name=vgg16"], output: out)) { _ in } }
    #expect(size?.contains("vgg16") == true && size?.contains("32") == true, "\(size ?? "no error")")
}

@Test("an output folder that cannot be created or written is an error naming the key")
func unwritableOutput() throws {
    let text = errorText { _ = try Trainer(recipe: try quickstart([], output: "/proc/rat-cannot-write"), resume: false) { _ in } }
    #expect(text?.contains("cannot create output folder '/proc/rat-cannot-write'") == true, "\(text ?? "no error")")
}

@Test("a new run does not replace an earlier run's checkpoints unless asked")
func earlierRunIsKept() throws {
    let out = temporaryFolder("keep")
    defer { try? FileManager.default.removeItem(atPath: out) }
    do {  // the first trainer (and its lock on the folder) ends here
        let first = try Trainer(recipe: try quickstart([], output: out), resume: false) { _ in }
        try first.run(maxSteps: 1)
    }
    let before = try Data(contentsOf: URL(fileURLWithPath: out + "/last.safetensors"))
    let text = errorText { _ = try Trainer(recipe: try quickstart([], output: out), resume: false) { _ in } }
    #expect(text?.contains("already holds a run") == true)
    #expect(try Data(contentsOf: URL(fileURLWithPath: out + "/last.safetensors")) == before)
    _ = try Trainer(recipe: try quickstart([], output: out), resume: false, overwrite: true) { _ in }
}

@Test("a diverging loss stops with the step and the first non-finite term named; the last checkpoint stays")
func nonFiniteLossStops() throws {
    let out = temporaryFolder("nan")
    defer { try? FileManager.default.removeItem(atPath: out) }
    // Without any checkpoint yet, the message does not claim one is kept.
    let fresh = errorText { try Trainer(recipe: try quickstart(["optim.lr=1e30"], output: out + "/fresh"), resume: false) { _ in }.run(maxSteps: 20) }
    #expect(fresh?.contains("first non-finite term") == true, "\(fresh ?? "no error")")
    #expect(fresh?.contains("No checkpoint had been written yet") == true && fresh?.contains("is kept") == false)
    // One step, stopped (a checkpoint is written), then resumed with the same recipe: it diverges.
    try Trainer(recipe: try quickstart(["optim.lr=1e30"], output: out + "/kept"), resume: false) { _ in }.run(maxSteps: 1)
    let checkpoint = try Data(contentsOf: URL(fileURLWithPath: out + "/kept/last.safetensors"))
    let exploding = try Trainer(recipe: try quickstart(["optim.lr=1e30"], output: out + "/kept"), resume: true) { _ in }
    let text = errorText { try exploding.run(maxSteps: 20) }
    #expect(text?.contains("first non-finite term") == true, "\(text ?? "no error")")
    #expect(text?.contains("step") == true)
    #expect(text?.contains("The last good checkpoint '\(out)/kept/last.safetensors' is kept.") == true, "\(text ?? "no error")")
    #expect(try Data(contentsOf: URL(fileURLWithPath: out + "/kept/last.safetensors")) == checkpoint)
}

@Test("without a validation split, data.val images are carved out of train (keyed, disjoint); otherwise an error")
func validationCarveOut() throws {
    // The embedded dataset without its val split.
    let folder = temporaryFolder("noval")
    defer { try? FileManager.default.removeItem(atPath: folder) }
    try FileManager.default.copyItem(atPath: repositoryRoot + "/datasets/fashion-mnist-small", toPath: folder)
    let manifestURL = URL(fileURLWithPath: folder + "/manifest.json")
    var manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: manifestURL)) as! [String: Any]
    var splits = manifest["splits"] as! [String: Any]
    splits["val"] = nil
    manifest["splits"] = splits
    try JSONSerialization.data(withJSONObject: manifest).write(to: manifestURL)

    let out = temporaryFolder("carve")
    defer { try? FileManager.default.removeItem(atPath: out) }
    var lines = [String]()
    _ = try Trainer(recipe: try quickstart(["data.path=\(folder)", "data.val=300"], output: out)) { lines.append($0) }
    #expect(lines.contains { $0.contains("300 images carved out of 'train'") })
    let none = errorText { _ = try Trainer(recipe: try quickstart(["data.path=\(folder)", "data.val=0"], output: out + "2")) { _ in } }
    #expect(none?.contains("has no 'val' split (it has: train, test)") == true, "\(none ?? "no error")")

    // The carve itself: disjoint, complete, and the same for the same seed.
    let train = try Dataset.open(folder).split("train")
    let (rest, carved) = try train.carving(300, as: "val", seed: 4)
    #expect(rest.count == train.count - 300 && carved.count == 300)
    #expect(try train.carving(300, as: "val", seed: 4).carved.labels == carved.labels)
    #expect(try train.carving(300, as: "val", seed: 5).carved.pixels != carved.pixels)
}

@Test("the zoo's mlp with its hidden width trains from a recipe")
func mlpWithHiddenWidthTrains() throws {
    let out = temporaryFolder("mlp")
    defer { try? FileManager.default.removeItem(atPath: out) }
    let recipe = try quickstart(["model.name=mlp", "model.hidden=64"], output: out)
    #expect(check(recipe, options: CheckOptions(inspectDataset: false)).filter { $0.severity == .error }.isEmpty)
    let trainer = try Trainer(recipe: recipe, resume: false) { _ in }
    try trainer.run(maxSteps: 1)
    #expect(trainer.state.step == 1)
    // 784 inputs → 64 hidden: the recipe's width reached the built model.
    #expect(trainer.state.parameters.values.contains { $0.count == 784 * 64 })
    // A width the zoo refuses stops the run at its key (`rat train` without `rat check`).
    let narrow = errorText { _ = try Trainer(recipe: try quickstart(["model.name=mlp", "model.hidden=0"], output: out)) { _ in } }
    #expect(narrow == "--set:6:14: model 'mlp': option hidden = 0 is invalid: the hidden width must be at least 1", "\(narrow ?? "no error")")
}
