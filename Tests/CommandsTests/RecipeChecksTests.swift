import Evaluation
import Foundation
import Testing

// Every command that runs a recipe runs `rat check`'s semantic checks first (item 1) and
// refuses a batch larger than the train split (item 2).

@Test("rat check: the quickstart recipe passes, a negative ε or a missing file is refused")
func checkCommandExitCodes() {
    #expect(rat(["check", quickstart, "--no-data"]) == 0)
    #expect(rat(["check", quickstart, "--no-data", "--set", "threat.eps=-0.1"]) == 1)
    #expect(rat(["check", repositoryRoot + "/recipes/no-such-recipe.yaml"]) == 1)
    #expect(rat(["train", quickstart, "--resume", "--overwrite"]) == 64)  // a usage error
}

@Test("rat train refuses what rat check refuses, before creating the output folder",
      arguments: ["threat.step=-0.02", "threat.eps=-0.1", "schedule.epochs=0", "schedule.batch=0"])
func trainRunsTheChecks(override: String) throws {
    let folder = temporaryFolder("train-checks")
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let data = try tinyDataset(in: folder)
    let output = folder + "/run"
    #expect(rat(["check", quickstart] + tinyOverrides(data: data, output: output) + ["--set", override]) == 1)
    #expect(rat(["train", quickstart] + tinyOverrides(data: data, output: output) + ["--set", override]) == 1)
    #expect(!exists(output), "a refused recipe must not leave a run folder")
    #expect(rat(["step", quickstart, "--dump", folder + "/step.safetensors"]
                + tinyOverrides(data: data, output: output) + ["--set", override]) == 1)
    #expect(rat(["plan", quickstart] + tinyOverrides(data: data, output: output) + ["--set", override]) == 1)
}

@Test("a batch larger than the train split is an error of check and train; a fitting one trains")
func batchLargerThanTrainSplit() throws {
    let folder = temporaryFolder("batch")
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let data = try tinyDataset(in: folder)   // 32 train images
    let output = folder + "/run"
    #expect(rat(["check", quickstart] + tinyOverrides(data: data, output: output) + ["--set", "schedule.batch=64"]) == 1)
    #expect(rat(["train", quickstart] + tinyOverrides(data: data, output: output) + ["--set", "schedule.batch=64"]) == 1)
    #expect(!exists(output + "/last.safetensors"))
    #expect(rat(["check", quickstart] + tinyOverrides(data: data, output: output) + ["--set", "schedule.batch=32"]) == 0)
}

@Test("rat train then rat eval of the run; eval refuses eval.examples = -3")
func trainThenEvaluate() throws {
    let folder = temporaryFolder("eval")
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let data = try tinyDataset(in: folder)
    let output = folder + "/run"
    #expect(rat(["train", quickstart] + tinyOverrides(data: data, output: output)) == 0)
    #expect(exists(output + "/last.safetensors") && exists(output + "/recipe.yaml"))
    #expect(rat(["eval", output, "--split", "test", "--json"]) == 0)
    #expect(rat(["eval", output, "--set", "eval.examples=-3"]) == 1)
    #expect(rat(["eval", folder + "/no-such-run"]) == 1)
    // Black-box transfer: attacks crafted on a surrogate run (here the run itself), whose
    // recipe is loaded and checked outside argument parsing; the stored result says so.
    let before = Set(try FileManager.default.contentsOfDirectory(atPath: output + "/eval"))
    #expect(rat(["eval", output, "--split", "test", "--transfer-from", output, "--set", "eval.attacks=[fgsm]",
                 "--set", "eval.select.metric=clean"]) == 0)
    let added = Set(try FileManager.default.contentsOfDirectory(atPath: output + "/eval")).subtracting(before)
    #expect(added.count == 1, "\(added)")
    if let file = added.first {
        let text = try String(contentsOfFile: output + "/eval/" + file, encoding: .utf8)
        #expect(text.contains("\"transfer_from\""), "\(text.prefix(400))")
    }
    #expect(rat(["eval", output, "--transfer-from", folder + "/no-such-run"]) == 1)
}

@Test("eval.keep_every keeps epoch weights; rat eval --checkpoints all evaluates them beside last and best")
func keptCheckpointsAreEvaluated() throws {
    let folder = temporaryFolder("keep")
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let data = try tinyDataset(in: folder)
    let output = folder + "/run"
    #expect(rat(["train", quickstart] + tinyOverrides(data: data, output: output)
                 + ["--set", "eval.keep_every=1", "--set", "schedule.epochs=2"]) == 0)
    #expect(exists(output + "/epoch-1.safetensors") && exists(output + "/epoch-2.safetensors"))
    #expect(!exists(output + "/epoch-1.optim.safetensors") && !exists(output + "/best.optim.safetensors"))
    let checkpoints = try runCheckpoints(output, .all).map(\.label)
    #expect(checkpoints == ["epoch 1", "epoch 2", "last", "best"])
    #expect(rat(["eval", output, "--checkpoints", "all", "--split", "test", "--set", "eval.attacks=[fgsm]",
                 "--set", "eval.select.metric=clean"]) == 0)
    #expect(rat(["eval", output, "--checkpoints", "everything"]) != 0)
    #expect(rat(["train", quickstart] + tinyOverrides(data: data, output: folder + "/bad") + ["--set", "eval.keep_every=-1"]) == 1)
    // Starting over removes the kept epochs of the earlier run.
    #expect(rat(["train", quickstart] + tinyOverrides(data: data, output: output) + ["--overwrite"]) == 0)
    #expect(!exists(output + "/epoch-2.safetensors"))
}
