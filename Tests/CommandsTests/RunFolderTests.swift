import Checkpoints
import Foundation
import Recipe
import Testing
import Training

// One writer per run folder (a lock naming the holder's pid), and what --resume accepts.

private func tinyRecipe(data: String, output: String, _ extra: [String] = []) throws -> Recipe {
    try RecipeLoader.load(path: quickstart, overrides: [
        "data.path=\(data)", "output=\(output)", "schedule.batch=16", "schedule.epochs=1", "threat.steps=1", "eval.examples=16",
    ] + extra)
}

@Test("a second trainer on a folder where one is training is refused, naming the first's pid; freed when the first ends")
func oneWriterPerRunFolder() throws {
    let folder = temporaryFolder("lock")
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let data = try tinyDataset(in: folder)
    let output = folder + "/run"
    // A lock file left by a killed process (its pid gone) does not block: flock died with it.
    try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
    try "4194303\n".write(toFile: output + "/.lock", atomically: true, encoding: .utf8)
    var first: Trainer? = try Trainer(recipe: try tinyRecipe(data: data, output: output)) { _ in }
    #expect(try String(contentsOfFile: output + "/.lock", encoding: .utf8) == "\(getpid())\n")
    do {
        _ = try Trainer(recipe: try tinyRecipe(data: data, output: output), overwrite: true) { _ in }
        Issue.record("a second trainer took a locked folder")
    } catch {
        #expect("\(error)".contains("is in use by another training run (pid \(getpid()))"), "\(error)")
    }
    // The command refuses too, with exit status 1.
    #expect(rat(["train", quickstart, "--overwrite"] + tinyOverrides(data: data, output: output)) == 1)
    try first?.run(maxSteps: 1)
    first = nil   // releases the lock
    #expect(rat(["train", quickstart, "--resume"] + tinyOverrides(data: data, output: output)) == 0)
}

@Test("--resume without an earlier run is an error that leaves no folder behind")
func resumeWithoutRun() throws {
    let folder = temporaryFolder("resume-none")
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let data = try tinyDataset(in: folder)
    let output = folder + "/never"
    #expect(rat(["train", quickstart, "--resume"] + tinyOverrides(data: data, output: output)) == 1)
    #expect(!exists(output))
    do {
        _ = try Trainer(recipe: try tinyRecipe(data: data, output: output), resume: true) { _ in }
        Issue.record("resumed a run that does not exist")
    } catch {
        #expect("\(error)".contains("no earlier run in '\(output)'"), "\(error)")
    }
    #expect(!exists(output))
}

@Test("--resume refuses recipe changes outside schedule.epochs and eval.*, listing them; allowed ones are stored")
func resumeComparesRecipes() throws {
    let folder = temporaryFolder("resume-diff")
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let data = try tinyDataset(in: folder)
    let output = folder + "/run"
    try Trainer(recipe: try tinyRecipe(data: data, output: output)) { _ in }.run(maxSteps: 1)
    let stored = try String(contentsOfFile: output + "/recipe.yaml", encoding: .utf8)

    do {
        _ = try Trainer(recipe: try tinyRecipe(data: data, output: output, ["optim.lr=0.5", "eval.every=2"]), resume: true) { _ in }
        Issue.record("resumed with another learning rate")
    } catch {
        let text = "\(error)"
        #expect(text.hasPrefix("--set:7:"), "located at the override: \(text)")
        #expect(text.contains("optim.lr: ") && text.contains(" → 0.5  (not allowed)"), "\(text)")
        #expect(text.contains("eval.every: 1 → 2") && !text.contains("eval.every: 1 → 2  (not allowed)"), "\(text)")
    }
    #expect(try String(contentsOfFile: output + "/recipe.yaml", encoding: .utf8) == stored, "a refused resume changes nothing")
    #expect(rat(["train", quickstart, "--resume", "--set", "threat.eps=0.2"] + tinyOverrides(data: data, output: output)) == 1)

    var lines = [String]()
    let resumed = try Trainer(recipe: try tinyRecipe(data: data, output: output, ["schedule.epochs=2", "eval.examples=8"]),
                              resume: true) { lines.append($0) }
    #expect(lines.contains { $0.contains("schedule.epochs: 1 → 2") && $0.contains("eval.examples: 16 → 8") }, "\(lines)")
    let updated = try RecipeLoader.load(path: output + "/recipe.yaml")
    #expect(updated.schedule.epochs == 2 && updated.eval.examples == 8)
    try resumed.run()
    let epochs = try String(contentsOfFile: output + "/metrics.jsonl", encoding: .utf8).split(separator: "\n")
    #expect(epochs.count == 2)
}

@Test("after a stop and resume mid-epoch, the epoch's mean loss covers the whole epoch")
func epochMeanAfterResume() throws {
    let folder = temporaryFolder("resume-mean")
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let data = try tinyDataset(in: folder, train: 64)   // 4 batches of 16
    try Trainer(recipe: try tinyRecipe(data: data, output: folder + "/straight")) { _ in }.run()
    try Trainer(recipe: try tinyRecipe(data: data, output: folder + "/split")) { _ in }.run(maxSteps: 1)
    let stopped = try SafeTensors.read(path: folder + "/split/last.safetensors")
    #expect(stopped.metadata["epoch_steps"] == "1")
    try Trainer(recipe: try tinyRecipe(data: data, output: folder + "/split"), resume: true) { _ in }.run()

    func epochLoss(_ run: String) throws -> [String: Double] {
        let line = try String(contentsOfFile: folder + "/\(run)/metrics.jsonl", encoding: .utf8).split(separator: "\n")
        #expect(line.count == 1)
        let object = try JSONSerialization.jsonObject(with: Data(line[0].utf8)) as! [String: Any]
        return (object["loss"] as! [String: Any]).mapValues { ($0 as! NSNumber).doubleValue }
    }
    let (straight, split) = (try epochLoss("straight"), try epochLoss("split"))
    #expect(straight.keys.sorted() == split.keys.sorted() && straight.count > 1)
    for (term, value) in straight {
        #expect(abs(value - split[term]!) <= 1e-12 * max(1, abs(value)), "\(term): \(value) vs \(split[term]!)")
    }
}
