import ArgumentParser
import Foundation
import Recipe
import Training

struct Train: ParsableCommand, BLASSettingsCommand {
    /// The same OpenBLAS kernels and thread behaviour as `rat bench` measures.
    var blasCoretype: String { "Haswell" }

    static let configuration = CommandConfiguration(abstract: "Train from a recipe; checkpoints and metrics go to its output folder.")

    @Argument(help: "The recipe (YAML).")
    var recipe: String

    @OptionGroup var overrides: RecipeOverrides

    @Flag(help: "Continue the run in the recipe's output folder from its last checkpoint. The recipe must match the run's recipe.yaml except schedule.epochs, eval.* (not eval.select) and output; those changes are stored.")
    var resume = false

    @Flag(help: "Start over in an output folder that already holds a run (its checkpoints and metrics are replaced).")
    var overwrite = false

    @Option(help: .hidden)
    var stopAfterSteps: Int?

    func validate() throws {
        if resume && overwrite { throw ValidationError("--resume continues a run and --overwrite replaces it: choose one") }
    }

    func run() throws {
        let recipe = try overrides.load(recipe)
        let display = ProgressDisplay()
        let trainer: Trainer
        do { trainer = try Trainer(recipe: recipe, resume: resume, overwrite: overwrite,
                                                   log: display.line, progress: display.show) } catch {
            printError("error: \(error)")
            throw ExitCode(1)
        }
        let stop = StopFlag()
        let source = interruptSource { stop.request() }
        defer { source.cancel() }
        let finished: Bool
        do { finished = try trainer.run(stop: stop, maxSteps: stopAfterSteps) } catch {
            printError("error: \(error)")
            throw ExitCode(1)
        }
        if !finished { throw ExitCode(stop.requested ? 130 : 0) }
        print("finished: \(trainer.lastPath)" + (FileManager.default.fileExists(atPath: trainer.bestPath) ? ", best \(trainer.bestPath)" : ""))
    }
}

/// Ctrl-C requests a stop at the next step boundary (a resumable checkpoint is written).
func interruptSource(_ handler: @escaping @Sendable () -> Void) -> DispatchSourceSignal {
    signal(SIGINT, SIG_IGN)
    let source = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
    source.setEventHandler(handler: handler)
    source.resume()
    return source
}
