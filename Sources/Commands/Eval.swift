import ArgumentParser
import Evaluation
import Foundation

struct Eval: ParsableCommand, BLASSettingsCommand {
    /// The same OpenBLAS kernels and thread behaviour as `rat bench` measures.
    var blasCoretype: String { "Haswell" }

    static let configuration = CommandConfiguration(
        abstract: "Clean and robust accuracy (PGD, CW, FGSM; eval-mode BN; random start) of a run or checkpoint.")

    @Argument(help: "A run folder (uses best.safetensors, else last.safetensors) or a checkpoint file.")
    var target: String

    @Option(help: "The recipe (default: the run folder's recipe.yaml).")
    var recipe: String?

    @OptionGroup var overrides: RecipeOverrides

    @Option(help: "Split to evaluate on (default: the recipe's eval.split).")
    var split: String?

    @Flag(help: "Print only the JSON result.")
    var json = false

    func run() throws {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: target, isDirectory: &isFolder) else {
            printError("error: \(target): no such run folder or checkpoint")
            throw ExitCode(1)
        }
        let folder = isFolder.boolValue ? target : (target as NSString).deletingLastPathComponent
        let checkpoint = isFolder.boolValue
            ? (FileManager.default.fileExists(atPath: target + "/best.safetensors") ? target + "/best.safetensors" : target + "/last.safetensors")
            : target
        let recipePath = recipe ?? folder + "/recipe.yaml"
        let loaded = try overrides.load(recipePath)
        do {
            let report = try evaluate(recipe: loaded, checkpoint: checkpoint, split: split)
            if !json { print("\(report.checkpoint) on \(report.split) (\(report.examples) examples):\n\(report.markdown)") }
            print(report.json)
        } catch {
            printError("error: \(error)")
            throw ExitCode(1)
        }
    }
}
