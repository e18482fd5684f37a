import Executor
import Attacks
import Graph
import Loader
import Models
import Recipe

/// Accuracy of a model (eval-mode BN) on clean inputs and under a list of evaluation
/// attacks, batch by batch: what training validates with to select its checkpoint. Each
/// attack's graphs are compiled once; batches only write images and labels. A suite (`aa`)
/// counts a row as robust only if every component failed on it.
/// (`rat eval` runs the split-level version with per-example records: Evaluation.)
public final class RobustnessEvaluator {
    let attacked: AttackedModel
    let specs: [AttackSpec]
    let attacks: [[any Attack]]
    let classes: Int
    let batch: Int

    public init(model: any Model, inputShape: [Int], classes: Int, attacks specs: [AttackSpec], compiler: @escaping GraphCompiler) throws {
        self.classes = classes
        batch = inputShape[0]
        attacked = try AttackedModel(model: model, inputShape: inputShape, classes: classes, compiler: compiler)
        for spec in specs {
            if let problem = spec.problems(classes: classes).first { throw TrainingError(problem.message) }
        }
        self.specs = specs
        attacks = specs.map { $0.attacks(classes: classes) }
    }

    public var names: [String] { ["clean"] + specs.map(\.name) }

    /// Writes parameters and BN buffers (by name) into every graph.
    public func load(weights: [String: [Float]]) throws { try attacked.load(weights: weights) }

    /// Correct counts (clean first, then per attack) on one batch of exactly `batch` rows;
    /// the first `valid` rows count (a last partial batch is padded by repetition).
    public func correct(images: [Float], labels: [Int32], valid: Int, seed: UInt64, batchIndex: Int) throws -> [Int] {
        let clean = attacked.correct(try attacked.logits(images), labels)
        var counts = [count(clean, valid)]
        for (k, components) in attacks.enumerated() {
            var rng = keyedGenerator(seed: seed, epoch: -1 - k, batch: batchIndex, purpose: 3)
            var robust = clean
            for attack in components where robust.prefix(valid).contains(true) {
                let found = try attack.perturb(attacked, images: images, labels: labels, rng: &rng)
                for (row, correct) in attacked.correct(try attacked.logits(found), labels).enumerated() where !correct {
                    robust[row] = false
                }
            }
            counts.append(count(robust, valid))
        }
        return counts
    }

    func count(_ correct: [Bool], _ valid: Int) -> Int { correct.prefix(valid).filter { $0 }.count }
}

/// Runs the evaluator over a split in fixed-size batches (the last one padded by repeating
/// its rows, which are not counted). Returns accuracy per name (clean, then attacks).
public func measureAccuracy(evaluator: RobustnessEvaluator, weights: [String: [Float]], split: SplitData,
                            batch: Int, limit: Int?, seed: UInt64) throws -> [String: Double] {
    try evaluator.load(weights: weights)
    let loader = BatchLoader(split: split, batchSize: batch, seed: seed, dropLast: false, prefetch: false)
    let total = min(split.count, limit ?? split.count)
    var correct = [Int](repeating: 0, count: evaluator.names.count)
    var counted = 0
    for (index, b) in loader.batches(epoch: 0).enumerated() where counted < total {
        var images = b.images, labels = b.labels
        let per = images.count / max(b.count, 1)
        while labels.count < batch {
            let row = labels.count % b.count
            labels.append(b.labels[row])
            images.append(contentsOf: b.images[(row * per)..<((row + 1) * per)])
        }
        let valid = min(b.count, total - counted)
        let hits = try evaluator.correct(images: images, labels: labels, valid: valid, seed: seed, batchIndex: index)
        for k in hits.indices { correct[k] += hits[k] }
        counted += valid
    }
    return Dictionary(uniqueKeysWithValues: zip(evaluator.names, correct.map { Double($0) / Double(max(counted, 1)) }))
}
