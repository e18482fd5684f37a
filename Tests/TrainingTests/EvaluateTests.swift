import Evaluation
import Foundation
import Recipe
import Synchronization
import Testing
import Training

/// A checkpoint trained for two steps on the embedded subset (batch 8), in its run folder.
func trainedRun(_ tag: String, _ overrides: [String] = []) throws -> (recipe: Recipe, checkpoint: String, folder: String) {
    let out = temporaryFolder(tag)
    let recipe = try quickstart(["eval.examples=20", "eval.select.metric=clean"] + overrides, output: out)
    let trainer = try Trainer(recipe: recipe) { _ in }
    try trainer.run(maxSteps: 2)
    return (recipe, trainer.lastPath, out)
}

@Test("rat eval reports clean and per-attack accuracy, the worst case per example, and the settings in its JSON")
func evaluationReport() throws {
    let run = try trainedRun("eval", ["eval.attacks=[pgd20, cw20, fgsm]"])
    defer { try? FileManager.default.removeItem(atPath: run.folder) }
    let report = try evaluate(recipe: run.recipe, checkpoint: run.checkpoint)
    #expect(report.examples == 20 && report.split == "test")
    #expect(report.accuracy.map(\.name) == ["clean", "pgd20", "cw20", "fgsm"])
    for (name, value) in report.accuracy { #expect((0...1).contains(value), "\(name) = \(value)") }
    // Worst case per point: robust to every attack, so never above any attack's accuracy.
    let robust = try #require(report.robustAccuracy)
    #expect(report.accuracy.dropFirst().allSatisfy { robust <= $0.value })
    let perPoint = (0..<20).filter { i in report.outcomes.clean[i] && ["pgd20", "cw20", "fgsm"].allSatisfy { report.outcomes.robust($0)![i] } }
    #expect(Double(perPoint.count) / 20 == robust)
    // An attack only removes points: robust implies clean-correct.
    for name in ["pgd20", "cw20", "fgsm"] {
        #expect(zip(report.outcomes.robust(name)!, report.outcomes.clean).allSatisfy { !$0 || $1 })
    }

    let json = try JSONSerialization.jsonObject(with: Data(report.json.utf8)) as! [String: Any]
    for key in ["clean_acc", "robust_acc", "checkpoint_hash", "recipe_hash", "attacks", "n_examples", "threat_model", "eps",
                "eps_value", "per_example", "flags", "git_commit", "rat_version", "wall_time_s", "dataset", "split"] {
        #expect(json[key] != nil, "missing \(key)")
    }
    #expect(json["threat_model"] as? String == "Linf" && json["n_examples"] as? Int == 20)
    let attacks = json["attacks"] as! [[String: Any]]
    #expect(attacks.first?["eps"] as? String == "0.1" && attacks.first?["steps"] as? Int == 20)
    #expect(attacks.map { $0["acc"] as? Double } == report.accuracy.dropFirst().map(\.value))
    let perExample = json["per_example"] as! [String: String]
    #expect(perExample["pgd20"]?.count == 20 && perExample["clean"]?.count == 20)
    // The same checkpoint evaluated twice gives the same numbers (keyed random starts).
    let again = try evaluate(recipe: run.recipe, checkpoint: run.checkpoint)
    #expect(again.accuracy.map(\.value) == report.accuracy.map(\.value))
    #expect(again.checkpointHash == report.checkpointHash)
}

@Test("--examples takes the first n images of the split in file order, whatever the batch size")
func firstExamplesInFileOrder() throws {
    let run = try trainedRun("first", ["eval.attacks=[fgsm]"])
    defer { try? FileManager.default.removeItem(atPath: run.folder) }
    let ten = try evaluate(recipe: run.recipe, checkpoint: run.checkpoint, options: EvaluationOptions(examples: 10))
    let twenty = try evaluate(recipe: run.recipe, checkpoint: run.checkpoint, options: EvaluationOptions(examples: 20))
    #expect(ten.examples == 10 && twenty.examples == 20)
    #expect(Array(twenty.outcomes.clean.prefix(10)) == ten.outcomes.clean)
    let otherBatch = try RecipeLoader.load(path: repositoryRoot + "/recipes/quickstart.yaml", overrides: [
        "data.path=\(repositoryRoot)/datasets/fashion-mnist-small", "schedule.batch=16", "output=\(run.folder)",
        "eval.attacks=[fgsm]", "eval.select.metric=clean"])
    let rebatched = try evaluate(recipe: otherBatch, checkpoint: run.checkpoint, options: EvaluationOptions(examples: 20))
    #expect(rebatched.outcomes.clean == twenty.outcomes.clean)
}

@Test("results are stored under eval/<split>-<settings hash>.json; other settings never overwrite them")
func storedResults() throws {
    let run = try trainedRun("store", ["eval.attacks=[fgsm]"])
    defer { try? FileManager.default.removeItem(atPath: run.folder) }
    var options = EvaluationOptions(examples: 12)
    options.storeIn = run.folder
    let first = try evaluate(recipe: run.recipe, checkpoint: run.checkpoint, options: options)
    let firstPath = try #require(first.storedAt)
    #expect(firstPath.hasPrefix(run.folder + "/eval/test-") && firstPath.hasSuffix(".json"))
    let firstBytes = try Data(contentsOf: URL(fileURLWithPath: firstPath))
    options.examples = 16
    let second = try evaluate(recipe: run.recipe, checkpoint: run.checkpoint, options: options)
    #expect(second.storedAt != firstPath)
    #expect(try Data(contentsOf: URL(fileURLWithPath: firstPath)) == firstBytes)
    let stored = try JSONSerialization.jsonObject(with: firstBytes) as! [String: Any]
    #expect(stored["n_examples"] as? Int == 12 && stored["settings_hash"] as? String == first.settingsHash)
}

@Test("an interrupted evaluation keeps its finished batches and a rerun continues to the same result")
func interruptedEvaluationContinues() throws {
    let run = try trainedRun("resume", ["eval.attacks=[pgd5, cw5]"])
    defer { try? FileManager.default.removeItem(atPath: run.folder) }
    let uninterrupted = try evaluate(recipe: run.recipe, checkpoint: run.checkpoint)
    var options = EvaluationOptions()
    options.storeIn = run.folder
    let stop = StopFlag()
    let lines = Mutex(0)
    #expect(throws: EvaluationInterrupted.self) {
        _ = try evaluate(recipe: run.recipe, checkpoint: run.checkpoint, options: options, stop: stop, log: { _ in
            if lines.withLock({ $0 += 1; return $0 }) == 1 { stop.request() }
        })
    }
    let partial = try FileManager.default.contentsOfDirectory(atPath: run.folder + "/eval").filter { $0.hasSuffix(".partial.json") }
    #expect(partial.count == 1)
    let continued = try evaluate(recipe: run.recipe, checkpoint: run.checkpoint, options: options)
    #expect(continued.accuracy.map(\.value) == uninterrupted.accuracy.map(\.value))
    #expect(continued.outcomes.robust("cw5") == uninterrupted.outcomes.robust("cw5"))
    #expect(try FileManager.default.contentsOfDirectory(atPath: run.folder + "/eval").allSatisfy { !$0.hasSuffix(".partial.json") })
}

@Test("transfer crafts on the surrogate: from the model itself it equals white-box, and it is marked")
func transferFromSurrogate() throws {
    let run = try trainedRun("transfer", ["eval.attacks=[pgd5]"])
    defer { try? FileManager.default.removeItem(atPath: run.folder) }
    let whiteBox = try evaluate(recipe: run.recipe, checkpoint: run.checkpoint)
    var options = EvaluationOptions()
    options.transferFrom = (run.checkpoint, run.recipe)
    let transfer = try evaluate(recipe: run.recipe, checkpoint: run.checkpoint, options: options)
    #expect(transfer.accuracy.map(\.value) == whiteBox.accuracy.map(\.value))
    let json = try JSONSerialization.jsonObject(with: Data(transfer.json.utf8)) as! [String: Any]
    #expect(json["transfer_from"] as? String == run.checkpoint)
    #expect((json["attacks"] as! [[String: Any]]).allSatisfy { $0["transfer"] as? Bool == true })
}

@Test("a randomized model evaluated without EOT is flagged, with its numbers")
func randomizedWithoutEOTFlag() throws {
    let run = try trainedRun("rand", ["eval.attacks=[pgd5]", "noise.at_eval=true", "eval.eot=1"])
    defer { try? FileManager.default.removeItem(atPath: run.folder) }
    var options = EvaluationOptions(examples: 8)
    options.allFlags = true
    let report = try evaluate(recipe: run.recipe, checkpoint: run.checkpoint, options: options)
    let flag = try #require(report.flags.first { $0.name == "randomized-without-eot" })
    #expect((flag.values["max_logit_change"] ?? 0) > 0)
    // The deterministic model raises no such flag.
    let plain = try trainedRun("plain", ["eval.attacks=[pgd5]"])
    defer { try? FileManager.default.removeItem(atPath: plain.folder) }
    let clean = try evaluate(recipe: plain.recipe, checkpoint: plain.checkpoint, options: options)
    #expect(!clean.flags.contains { $0.name == "randomized-without-eot" })
}
