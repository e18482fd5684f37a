import Executor
import Attacks
import Checkpoints
import Foundation
import Graph
import Loader
import Recipe
import Training

/// The result of `rat eval`: clean and robust accuracy of one checkpoint on one split.
public struct EvaluationReport {
    public var checkpoint: String
    public var checkpointHash: String
    public var split: String
    public var examples: Int
    public var accuracy: [(name: String, value: Double)]
    public var attacks: [AttackSpec]

    public var json: String {
        var object: [String: Any] = ["checkpoint": checkpoint, "checkpoint_hash": checkpointHash, "split": split,
                                     "examples": examples]
        for (name, value) in accuracy { object[name == "clean" ? "clean_acc" : "\(name)_acc"] = value }
        object["attacks"] = attacks.map { a -> [String: Any] in
            ["name": a.name, "kind": a.kind.rawValue, "norm": a.norm.rawValue,
             "eps": a.epsilonText, "eps_value": a.epsilon, "step": a.step, "steps": a.steps, "random_start": a.randomStart]
        }
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    public var markdown: String {
        "| " + accuracy.map(\.name).joined(separator: " | ") + " |\n|" + accuracy.map { _ in "---|" }.joined()
            + "\n| " + accuracy.map { String(format: "%.2f", 100 * $0.value) }.joined(separator: " | ") + " |"
    }
}

/// Evaluates a checkpoint under the recipe's evaluation attacks (eval-mode BN, random starts).
public func evaluate(recipe: Recipe, checkpoint: String, split splitName: String? = nil,
                     compiler: @escaping GraphCompiler = fastCompiler) throws -> EvaluationReport {
    let dataset: Dataset
    do { dataset = try Dataset.open(recipe.data.path) } catch {
        throw TrainingError("cannot open dataset '\(recipe.data.path)': \(error)")
    }
    let name = splitName ?? recipe.eval.split.rawValue
    let split = try dataset.split(name)
    let model = try makeModel(recipe, channels: dataset.channels, height: dataset.height, width: dataset.width,
                              classes: dataset.classCount)
    let batch = recipe.schedule.batch
    let shape = [batch, dataset.channels, dataset.height, dataset.width]
    let forward = model.forwardGraph(inputShape: shape, mode: .eval)
    var state = TrainState(parameters: forward.parameters, buffers: forward.buffers, seed: 0)
    try loadCheckpoint(checkpoint, into: &state, requireMomentum: false)
    let evaluator = try RobustnessEvaluator(model: model, inputShape: shape, classes: dataset.classCount,
                                            attacks: recipe.eval.attacks, compiler: compiler)
    let accuracy = try measureAccuracy(evaluator: evaluator, weights: state.parameters.merging(state.buffers) { a, _ in a },
                                       split: split, batch: batch, limit: recipe.eval.examples,
                                       seed: UInt64(bitPattern: Int64(recipe.seed)))
    let bytes = try Data(contentsOf: URL(fileURLWithPath: checkpoint))
    return EvaluationReport(checkpoint: checkpoint, checkpointHash: fnv1a(bytes), split: name,
                            examples: min(split.count, recipe.eval.examples ?? split.count),
                            accuracy: evaluator.names.map { ($0, accuracy[$0] ?? 0) }, attacks: recipe.eval.attacks)
}

/// FNV-1a 64 of the checkpoint's bytes: identifies which file produced a result.
func fnv1a(_ data: Data) -> String {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for b in data { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
    return String(format: "fnv1a64:%016llx", h)
}
