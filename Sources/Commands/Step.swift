import ArgumentParser
import Foundation
import Loader
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
            let dataset = try Dataset.open(recipe.data.path)
            let model = try makeModel(recipe, channels: dataset.channels, height: dataset.height, width: dataset.width,
                                      classes: dataset.classCount)
            let shape = [recipe.schedule.batch, dataset.channels, dataset.height, dataset.width]
            let program = try StepProgram(recipe: recipe, model: model, inputShape: shape, classes: dataset.classCount,
                                          compiler: fastCompiler)
            var state = TrainState(parameters: program.training.parameters, buffers: program.training.buffers,
                                   seed: UInt64(bitPattern: Int64(recipe.seed)))
            let loader = BatchLoader(split: try dataset.split(recipe.data.splits.train), batchSize: recipe.schedule.batch,
                                     seed: UInt64(bitPattern: Int64(recipe.seed)),
                                     augmentation: Augmentation(cropPadding: recipe.data.augment.cropPadding,
                                                                horizontalFlip: recipe.data.augment.horizontalFlip),
                                     dropLast: true, prefetch: false)
            guard loader.batchesPerEpoch > 0 else { throw TrainingError("the train split has fewer than \(recipe.schedule.batch) images") }
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
