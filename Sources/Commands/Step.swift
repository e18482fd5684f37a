import Executor
import ArgumentParser
import Foundation
import Training

/// `rat step <recipe> --dump <file>`: one training step on the first batch, every tensor written.
struct Step: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run one training step on one batch and dump its tensors (safetensors; see docs/step-dump.md).")

    @Argument(help: "The recipe (YAML).")
    var recipe: String

    @OptionGroup var overrides: RecipeOverrides

    @Option(help: "Where to write the tensors (.safetensors).")
    var dump: String

    func run() throws {
        let recipe = try overrides.load(recipe)
        do {
            let setup = try RunSetup(recipe: recipe)
            let program = try StepProgram(recipe: recipe, model: setup.model, inputShape: setup.inputShape,
                                          classes: setup.classes, compiler: FastGraph.compiler(precision: recipe.precision))
            var state = setup.initialState(program)
            let loader = setup.trainLoader(try setup.split(recipe.data.splits.train, key: "data.splits.train"), prefetch: false)
            guard loader.batchesPerEpoch > 0 else {
                throw TrainingError("\(recipe.locations.location(of: "schedule.batch")): schedule.batch (\(setup.batch)) is larger "
                                    + "than the '\(recipe.data.splits.train)' split (\(loader.split.count) images)")
            }
            let batch = loader.batch(epoch: 0, index: 0)
            let report = try program.step(&state, images: batch.images, labels: batch.labels, lr: 0, update: false)
            try dumpStep(program, labels: batch.labels, to: dump)
            print("wrote \(dump): loss \(report.total) = "
                  + program.training.terms.map { String(format: "%g·%@ %.6g", $0.weight, $0.name, report.terms[$0.name] ?? .nan) }
                      .joined(separator: " + "))
        } catch {
            printError("error: \(error)")
            throw ExitCode(1)
        }
    }
}
