import Checkpoints
import Foundation
import Recipe
import Testing
import Training

let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path

func tinyRecipe(output: String) throws -> Recipe {
    try RecipeLoader.load(path: repositoryRoot + "/recipes/quickstart.yaml", overrides: [
        "data.path=\(repositoryRoot)/datasets/fashion-mnist-small", "schedule.batch=16",
        "threat.steps=2", "output=\(output)",
    ])
}

@Test("a run stopped mid-epoch and resumed ends with bit-identical weights")
func resumeIsBitIdentical() throws {
    let base = FileManager.default.temporaryDirectory.appendingPathComponent("rat-resume-\(getpid())").path
    defer { try? FileManager.default.removeItem(atPath: base) }

    let straight = try Trainer(recipe: try tinyRecipe(output: base + "/straight"), resume: false) { _ in }
    #expect(try straight.run(maxSteps: 6) == false)

    do {  // the first trainer (and its lock on the folder) ends here
        let first = try Trainer(recipe: try tinyRecipe(output: base + "/split"), resume: false) { _ in }
        try first.run(maxSteps: 3)
    }
    let resumed = try Trainer(recipe: try tinyRecipe(output: base + "/split"), resume: true) { _ in }
    #expect(resumed.state.step == 3 && resumed.state.batch == 3)
    try resumed.run(maxSteps: 3)

    let a = try SafeTensors.read(path: base + "/straight/last.safetensors")
    let b = try SafeTensors.read(path: base + "/split/last.safetensors")
    #expect(a.names == b.names)
    #expect(a.metadata["step"] == "6" && b.metadata["step"] == "6")
    for name in a.names {
        #expect(try a.tensor(name).bytes == b.tensor(name).bytes, "\(name) differs after resume")
    }
    // The weights did move: the comparison is not between two untouched initializations.
    let initial = try Trainer(recipe: try tinyRecipe(output: base + "/fresh"), resume: false) { _ in }
    #expect(initial.state.parameters["conv1.weight"] != (try a.float32("conv1.weight")))
}

@Test("a checkpoint of a different model is refused with the differences listed")
func checkpointOfAnotherModel() throws {
    let base = FileManager.default.temporaryDirectory.appendingPathComponent("rat-mismatch-\(getpid())").path
    defer { try? FileManager.default.removeItem(atPath: base) }
    var other = SafeTensors()
    try other.add("conv1.weight", float32: [1, 2, 3], shape: [3])
    try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
    try other.write(to: base + "/last.safetensors")
    #expect {
        _ = try Trainer(recipe: try tinyRecipe(output: base), resume: true) { _ in }
    } throws: { error in
        let text = "\(error)"
        return text.contains("does not fit this model") && text.contains("conv1.weight: 3 values")
    }
}

@Test("a missing dataset is a clear error naming the recipe key")
func missingDataset() throws {
    let recipe = try RecipeLoader.load(path: repositoryRoot + "/recipes/quickstart.yaml",
                                       overrides: ["data.path=/nonexistent/data", "output=/tmp/rat-never"])
    #expect {
        _ = try Trainer(recipe: recipe, resume: false) { _ in }
    } throws: { error in "\(error)".contains("cannot open dataset '/nonexistent/data'") }
}
