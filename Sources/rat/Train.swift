import ArgumentParser
import Foundation
import Recipe
import Training

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Train from a recipe; checkpoints and metrics go to its output folder.")

    @Argument(help: "The recipe (YAML).")
    var recipe: String

    @Option(name: .customLong("set"), help: "Override a recipe key: key.path=value (repeatable).")
    var overrides: [String] = []

    @Flag(help: "Continue the run in the recipe's output folder from its last checkpoint.")
    var resume = false

    @Option(help: .hidden)
    var stopAfterSteps: Int?

    func run() throws {
        let recipe = try loadRecipe(recipe, overrides)
        let trainer = try Trainer(recipe: recipe, resume: resume) { print($0) }
        let stop = StopFlag()
        let source = interruptSource { stop.request() }
        defer { source.cancel() }
        let finished = try trainer.run(stop: stop, maxSteps: stopAfterSteps)
        if !finished { throw ExitCode(stop.requested ? 130 : 0) }
        print("finished: \(trainer.lastPath)" + (FileManager.default.fileExists(atPath: trainer.bestPath) ? ", best \(trainer.bestPath)" : ""))
    }
}

/// Loads a recipe, printing its error with file:line:col on failure.
func loadRecipe(_ path: String, _ overrides: [String]) throws -> Recipe {
    do { return try RecipeLoader.load(path: path, overrides: overrides) } catch {
        FileHandle.standardError.write(Data("error: \(error)\n".utf8))
        throw ExitCode(2)
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
