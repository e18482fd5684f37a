import Graph
import Models
import Objectives
import Recipe

/// Accuracy of a model (eval-mode BN) on clean inputs and under the recipe's evaluation
/// attacks, compiled once per batch shape and reused across batches.
public final class RobustnessEvaluator {
    let logits: any CompiledGraph
    let attacks: [(spec: EvalAttack, step: any CompiledGraph)]
    let classes: Int
    let batch: Int

    public init(model: any Model, inputShape: [Int], classes: Int, attacks: [EvalAttack], compiler: GraphCompiler) throws {
        self.classes = classes
        batch = inputShape[0]
        logits = try compiler(buildLogitsGraph(model: model, inputShape: inputShape))
        self.attacks = try attacks.map { spec in
            let objective: AttackObjective = spec.kind == .cw ? .carliniWagner(kappa: spec.kappa ?? 50) : .crossEntropy
            let eps = spec.eps.value
            let threat = ThreatModel(norm: spec.norm == .linf ? .linf : .l2, epsilon: eps,
                                     stepSize: spec.kind == .fgsm ? eps : spec.step.value)
            return (spec, try compiler(buildAttackStepGraph(model: model, inputShape: inputShape, classes: classes,
                                                            objective: objective, threat: threat)))
        }
    }

    /// Correct counts (clean first, then per attack) on one batch of exactly `batch` rows;
    /// the first `valid` rows count (a last partial batch is padded by repetition).
    public func correct(weights: [String: [Float]], images: [Float], labels: [Int32], valid: Int,
                        seed: UInt64, batchIndex: Int) throws -> [Int] {
        var onehot = [Float](repeating: 0, count: labels.count * classes)
        for (i, y) in labels.enumerated() { onehot[i * classes + Int(y)] = 1 }
        var feed = weights
        feed["input"] = images
        feed["input/clean"] = images
        feed["label"] = onehot
        var counts = [count(try logits.run(feed)[0], labels, valid)]
        for (k, attack) in attacks.enumerated() {
            var rng = keyedGenerator(seed: seed, epoch: -1 - k, batch: batchIndex, purpose: 3)
            var x = images
            let spec = attack.spec
            if spec.randomStart && spec.kind != .fgsm {
                let eps = spec.eps.value
                if spec.norm == .linf {
                    x = images.map { min(max($0 + Float((rng.uniform() * 2 - 1) * eps), 0), 1) }
                } else {
                    // A random direction scaled to a uniform radius in the ℓ2 ball, per image.
                    let d = images.count / batch
                    for n in 0..<batch {
                        let dir = (0..<d).map { _ in rng.normal() }
                        let norm = dir.reduce(0) { $0 + $1 * $1 }.squareRoot()
                        let r = eps * rng.uniform()
                        for j in 0..<d { x[n * d + j] = min(max(images[n * d + j] + Float(dir[j] / norm * r), 0), 1) }
                    }
                }
            }
            for _ in 0..<(spec.kind == .fgsm ? 1 : spec.steps) {
                feed["input/adversarial"] = x
                x = try attack.step.run(feed)[0]
            }
            feed["input"] = x
            counts.append(count(try logits.run(feed)[0], labels, valid))
        }
        return counts
    }

    func count(_ logits: [Float], _ labels: [Int32], _ valid: Int) -> Int {
        var hits = 0
        for i in 0..<valid {
            let row = logits[(i * classes)..<((i + 1) * classes)]
            if let best = row.indices.max(by: { row[$0] < row[$1] }), best - i * classes == Int(labels[i]) { hits += 1 }
        }
        return hits
    }

    public var names: [String] { ["clean"] + attacks.map(\.spec.name) }
}
