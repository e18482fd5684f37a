import Evaluation
import Foundation
import Testing
import Training

@Test("rat eval reports clean and per-attack accuracy with the settings, example count and checkpoint hash")
func evaluationReport() throws {
    let out = temporaryFolder("eval")
    defer { try? FileManager.default.removeItem(atPath: out) }
    let recipe = try quickstart(["eval.examples=20", "eval.attacks=[pgd20, cw20, fgsm]"], output: out)
    let trainer = try Trainer(recipe: recipe) { _ in }
    try trainer.run(maxSteps: 2)
    let report = try evaluate(recipe: recipe, checkpoint: trainer.lastPath)
    #expect(report.examples == 20 && report.split == "test")
    #expect(report.accuracy.map(\.name) == ["clean", "pgd20", "cw20", "fgsm"])
    for (name, value) in report.accuracy { #expect((0...1).contains(value), "\(name) = \(value)") }
    let json = try JSONSerialization.jsonObject(with: Data(report.json.utf8)) as! [String: Any]
    for key in ["clean_acc", "pgd20_acc", "cw20_acc", "fgsm_acc", "checkpoint_hash", "attacks", "examples"] {
        #expect(json[key] != nil, "missing \(key)")
    }
    let attacks = json["attacks"] as! [[String: Any]]
    #expect(attacks.first?["eps"] as? String == "0.1" && attacks.first?["steps"] as? Int == 20)
    // The same checkpoint evaluated twice gives the same numbers (keyed random starts).
    let again = try evaluate(recipe: recipe, checkpoint: trainer.lastPath)
    #expect(again.accuracy.map(\.value) == report.accuracy.map(\.value))
    #expect(again.checkpointHash == report.checkpointHash)
}
