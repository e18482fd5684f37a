import Foundation
import Graph
import Loader
import Models
import Recipe

/// What every command that runs a recipe on its data starts from (train, step, eval): the
/// opened dataset (an error located at `data.path` when it cannot be opened), the model
/// built for its geometry, and the shape of one batch.
public struct RunSetup {
    public let recipe: Recipe
    public let dataset: Dataset
    public let model: any Model
    /// [schedule.batch, C, H, W]: the static input shape of the compiled graphs.
    public let inputShape: [Int]
    public var classes: Int { dataset.classCount }
    public var batch: Int { inputShape[0] }
    /// The recipe's seed as the generators take it.
    public var seed: UInt64 { UInt64(bitPattern: Int64(recipe.seed)) }

    public init(recipe: Recipe) throws {
        self.recipe = recipe
        do { dataset = try Dataset.open(recipe.data.path) } catch {
            throw TrainingError("\(recipe.locations.location(of: "data.path")): cannot open dataset '\(recipe.data.path)': \(error)")
        }
        model = try makeModel(recipe, channels: dataset.channels, height: dataset.height, width: dataset.width,
                              classes: dataset.classCount)
        inputShape = [recipe.schedule.batch, dataset.channels, dataset.height, dataset.width]
    }

    /// One split of the dataset; a missing one is an error located at `key` (the recipe key
    /// that names it) listing the splits the dataset has.
    public func split(_ name: String, key: String) throws -> SplitData {
        guard dataset.splitNames.contains(name) else {
            throw TrainingError("\(recipe.locations.location(of: key)): the dataset at '\(recipe.data.path)' "
                                + "has no '\(name)' split (it has: \(dataset.splitNames.joined(separator: ", ")))")
        }
        return try dataset.split(name)
    }

    /// The recipe's training loader over `split`: its augmentation, keyed by its seed, the
    /// last partial batch dropped (the step graph's batch is static).
    public func trainLoader(_ split: SplitData, prefetch: Bool = true) -> BatchLoader {
        BatchLoader(split: split, batchSize: batch, seed: seed,
                    augmentation: Augmentation(cropPadding: recipe.data.augment.cropPadding,
                                               horizontalFlip: recipe.data.augment.horizontalFlip),
                    dropLast: true, prefetch: prefetch)
    }

    /// The freshly initialized state of a compiled step (weights keyed by the recipe's seed).
    public func initialState(_ program: StepProgram) -> TrainState {
        TrainState(parameters: program.training.parameters, buffers: program.training.buffers, seed: seed)
    }

    /// The model's weights and BN buffers from a checkpoint, for evaluation (no momentum);
    /// a checkpoint of another model is an error listing the differences.
    public func evaluationState(checkpoint path: String) throws -> TrainState {
        let forward = model.forwardGraph(inputShape: inputShape, mode: .eval)
        var state = TrainState(parameters: forward.parameters, buffers: forward.buffers, seed: 0)
        try loadCheckpoint(path, into: &state, requireMomentum: false)
        return state
    }
}
