import Foundation
import Recipe
import Testing
import Training

// `precision: bf16` end to end: a tiny run trains with the step on oneDNN's bf16
// convolutions, says so in its log (how many primitives really are bf16, and that evaluation
// runs fp32), finishes with finite numbers, and stores the key in the run's recipe.yaml.

@Test("precision: bf16 trains a tiny run, logs what ran in bf16, and records the key")
func bf16TinyRun() throws {
    let folder = temporaryFolder("bf16")
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let data = try tinyDataset(in: folder)
    let output = folder + "/run"
    let recipe = try RecipeLoader.load(path: quickstart, overrides: [
        "data.path=\(data)", "output=\(output)", "schedule.batch=16", "schedule.epochs=1", "threat.steps=1",
        "eval.examples=16", "precision=bf16",
    ])
    var lines = [String]()
    let trainer = try Trainer(recipe: recipe) { lines.append($0) }
    try trainer.run()
    let said = lines.filter { $0.contains("precision: bf16") }
    #expect(said.count == 1, "\(lines)")
    if ProcessInfo.processInfo.environment["RAT_ONEDNN"] == "0" {
        #expect(said.first?.hasPrefix("warning:") == true, "\(said)")
    } else if let line = said.first, !line.contains("emulates") {
        // "precision: bf16: <bf16> of the training step's <all> oneDNN convolution primitives …"
        let counts = line.components(separatedBy: "precision: bf16: ").last ?? ""
        let numbers = counts.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
        // The forward convolutions run bf16, the backward ones f32 (`bf16Directions`).
        #expect(numbers.count >= 2 && numbers[0] > 0 && numbers[0] < numbers[1], "\(line)")
        #expect(line.contains("evaluation runs fp32"), "\(line)")
    }
    let metrics = try String(contentsOfFile: output + "/metrics.jsonl", encoding: .utf8)
    #expect(!metrics.contains("nan") && !metrics.isEmpty, "\(metrics)")
    let stored = try String(contentsOfFile: output + "/recipe.yaml", encoding: .utf8)
    #expect(stored.contains("\nprecision: bf16"))
}
