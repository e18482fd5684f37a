import ArgumentParser
import Evaluation
import Foundation
import Recipe
import Training

extension CheckpointChoice: ExpressibleByArgument {}

struct Eval: ParsableCommand, BLASSettingsCommand {
    /// The same OpenBLAS kernels and thread behaviour as `rat bench` measures.
    var blasCoretype: String { "Haswell" }

    static let configuration = CommandConfiguration(
        abstract: "Clean and robust accuracy of a run or checkpoint under the recipe's eval.attacks "
            + "(PGD, CW, FGSM, APGD, FAB-T, Square, AutoAttack; eval-mode BN), per example worst case; "
            + "stored as eval/<split>-<hash>.json in the run folder.")

    @Argument(help: "A run folder (uses best.safetensors, else last.safetensors) or a checkpoint file (rat's or a PyTorch state_dict in safetensors).")
    var target: String

    @Option(help: "The recipe (default: the run folder's recipe.yaml).")
    var recipe: String?

    @OptionGroup var overrides: RecipeOverrides

    @Option(help: "Split to evaluate on (default: the recipe's eval.split).")
    var split: String?

    @Option(help: "Evaluate the first N images of the split, in file order (default: eval.examples, else all).")
    var examples: Int?

    @Option(name: .customLong("transfer-from"), help: "A run folder or checkpoint to craft the attacks on (black-box transfer).")
    var transferFrom: String?

    @Option(name: .customLong("transfer-recipe"), help: "The surrogate's recipe when --transfer-from is a checkpoint file.")
    var transferRecipe: String?

    @Flag(help: "Also run the expensive gradient-masking checks (unbounded-ε PGD, PGD with twice the steps).")
    var flags = false

    @Option(help: ArgumentHelp("With a run folder: evaluate its best (validation-selected), last, or all kept checkpoints "
                               + "(eval.keep_every) and report the best ever reached, marked as selected on the evaluated split."))
    var checkpoints: CheckpointChoice?

    @Flag(help: "Print only the JSON result.")
    var json = false

    func run() throws {
        let (folder, checkpoint) = try locate(target)
        let loaded = try overrides.load(recipe ?? folder + "/recipe.yaml")
        if let examples, examples < 1 {
            printError("error: --examples must be ≥ 1, it is \(examples)")
            throw ExitCode(1)
        }
        var options = EvaluationOptions(split: split, examples: examples)
        options.allFlags = flags
        // Results are stored with a run; a lone checkpoint file stores beside itself.
        options.storeIn = folder
        if let transferFrom {
            let (theirFolder, theirCheckpoint) = try locate(transferFrom)
            let theirRecipe = try loadCheckedRecipe(transferRecipe ?? theirFolder + "/recipe.yaml")
            options.transferFrom = (theirCheckpoint, theirRecipe)
        }
        let stop = StopFlag()
        let source = interruptSource { stop.request() }
        defer { source.cancel() }
        let progress = ProgressLine()
        if let checkpoints {
            try compare(checkpoints, folder: folder, recipe: loaded, options: options, stop: stop, progress: progress)
            return
        }
        try reportingFailures(progress) {
            let report = try evaluate(recipe: loaded, checkpoint: checkpoint, options: options, stop: stop,
                                      log: { json ? () : progress.show($0) })
            progress.finish()
            if !json {
                let kind = report.transferSource.map { " (transfer from \($0))" } ?? ""
                print("\(report.checkpoint) on \(report.split) (first \(report.examples) examples)\(kind):\n\(report.markdown)")
                for flag in report.flags { printError("warning: \(flag.name): \(flag.message)") }
                if let stored = report.storedAt { print("stored: \(stored)") }
            }
            if json { print(report.json) }
        }
    }

    func compare(_ choice: CheckpointChoice, folder: String, recipe: Recipe, options: EvaluationOptions, stop: StopFlag,
                 progress: ProgressLine) throws {
        try reportingFailures(progress) {
            let comparison = try compareCheckpoints(try runCheckpoints(folder, choice), recipe: recipe, options: options,
                                                    stop: stop, log: { json ? () : progress.show($0) })
            progress.finish()
            if json {
                print("[" + comparison.reports.map(\.report.json).joined(separator: ",\n") + "]")
            } else {
                print(comparison.markdown)
                for (label, report) in comparison.reports {
                    for flag in report.flags { printError("warning: \(label): \(flag.name): \(flag.message)") }
                }
            }
        }
    }

    /// Runs `body`; an interruption exits 130 (its finished batches are kept), any other error 1.
    func reportingFailures(_ progress: ProgressLine, _ body: () throws -> Void) throws {
        do { try body() } catch let interrupted as EvaluationInterrupted {
            progress.finish()
            printError("\(interrupted)")
            throw ExitCode(130)
        } catch {
            progress.finish()
            printError("error: \(error)")
            throw ExitCode(1)
        }
    }

    /// A run folder (its best, else last, checkpoint) or a checkpoint file and its folder.
    func locate(_ path: String) throws -> (folder: String, checkpoint: String) {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else {
            printError("error: \(path): no such run folder or checkpoint")
            throw ExitCode(1)
        }
        guard isFolder.boolValue else { return ((path as NSString).deletingLastPathComponent, path) }
        let best = path + "/best.safetensors"
        return (path, FileManager.default.fileExists(atPath: best) ? best : path + "/last.safetensors")
    }
}

/// One line of progress on standard error, rewritten in place.
final class ProgressLine {
    private var shown = false
    func show(_ text: String) {
        FileHandle.standardError.write(Data(("\r\u{1B}[K" + text).utf8))
        shown = true
    }
    func finish() { if shown { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)); shown = false } }
}

