import ArgumentParser
import Collective
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

    /// Tests: every rank writes its final weights to <folder>/rank-<r>.safetensors, to check
    /// that the ranks hold the same bytes.
    @Option(help: .hidden)
    var everyRankWeights: String?

    /// The recipe as `overrides.load` gives it, its diagnostics left unprinted; an error still exits 1.
    private func quietlyLoaded() throws -> Recipe {
        let loaded = try overrides.loadUnchecked(recipe)
        if check(loaded, options: CheckOptions(inspectDataset: true)).contains(where: { $0.severity == .error }) { throw ExitCode(1) }
        return loaded
    }

    func validate() throws {
        if resume && overwrite { throw ValidationError("--resume continues a run and --overwrite replaces it: choose one") }
    }

    func run() throws {
        // Under mpirun, rank 0 alone prints the recipe's warnings (every rank finds the same).
        let recipe = (Launch.launcherRank ?? 0) == 0 ? try overrides.load(recipe) : try quietlyLoaded()
        // Under mpirun every rank runs this; without it, MPI is never initialised.
        let communicator: any Communicator
        do { communicator = try Launch.communicator() } catch {
            printError("error: \(error)")
            throw ExitCode(2)
        }
        let display = ProgressDisplay()
        var built: Trainer?
        var failure: (any Error)?
        do { built = try Trainer(recipe: recipe, resume: resume, overwrite: overwrite, communicator: communicator,
                                 log: display.line, progress: display.show) } catch { failure = error }
        // The ranks agree that all of them are ready before any waits for the others; the first
        // failing rank says why (most errors are the same on every rank).
        let failing = communicator.allGather(failure == nil ? 0 : 1).enumerated().filter { $0.element != 0 }.map(\.offset)
        guard let trainer = built, failing.isEmpty else {
            if let failure, failing.first == communicator.rank {
                let others = failing.count > 1 ? " (and \(failing.count - 1) other rank(s))" : ""
                printError("error" + (communicator.size > 1 ? " on rank \(communicator.rank)\(others)" : "") + ": \(failure)")
            }
            Launch.finish(communicator)
            throw ExitCode(1)
        }
        let stop = StopFlag()
        // Ctrl-C stops a single process at a step boundary with a checkpoint; under mpirun it
        // ends the job (the ranks could not agree on the step), which resumes from `last`.
        let source = communicator.size == 1 ? interruptSource { stop.request() } : nil
        defer { source?.cancel() }
        let finished: Bool
        do { finished = try trainer.run(stop: stop, maxSteps: stopAfterSteps) } catch {
            if communicator.size > 1 {
                communicator.abort("error on rank \(communicator.rank): \(error)", code: 1)
            }
            printError("error: \(error)")
            throw ExitCode(1)
        }
        if let folder = everyRankWeights {
            do {
                try saveCheckpoint(trainer.state, to: folder + "/rank-\(communicator.rank).safetensors", withOptimizerState: false)
            } catch {
                communicator.abort("error on rank \(communicator.rank): \(error)", code: 1)
            }
        }
        Launch.finish(communicator)
        if !finished { throw ExitCode(stop.requested ? 130 : 0) }
        guard communicator.isRoot else { return }
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
