import Graph
import Loader
import Models
import Objectives
import Recipe

/// Accuracy of a model (eval-mode BN) on clean inputs and under evaluation attacks,
/// compiled once per batch shape. Weights are loaded once; batches then only write
/// images and labels.
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

    public var names: [String] { ["clean"] + attacks.map(\.spec.name) }

    /// Writes parameters and BN buffers (by name) into every graph.
    public func load(weights: [String: [Float]]) throws {
        for graph in [logits] + attacks.map(\.step) {
            for name in graph.inputNames where weights[name] != nil { try graph.setInput(name, weights[name]!) }
        }
    }

    /// Correct counts (clean first, then per attack) on one batch of exactly `batch` rows;
    /// the first `valid` rows count (a last partial batch is padded by repetition).
    public func correct(images: [Float], labels: [Int32], valid: Int, seed: UInt64, batchIndex: Int) throws -> [Int] {
        var onehot = [Float](repeating: 0, count: labels.count * classes)
        for (i, y) in labels.enumerated() { onehot[i * classes + Int(y)] = 1 }
        try logits.setInput("input", images)
        try logits.run()
        var counts = [count(logits.output(0), labels, valid)]
        for (k, attack) in attacks.enumerated() {
            var rng = keyedGenerator(seed: seed, epoch: -1 - k, batch: batchIndex, purpose: 3)
            try attack.step.setInput("input/clean", images)
            try attack.step.setInput("label", onehot)
            let x = try attack.step.input("input/adversarial")
            _ = x.update(fromContentsOf: startingPoint(images, count: batch, attackStart(attack.spec), &rng))
            for _ in 0..<(attack.spec.kind == .fgsm ? 1 : attack.spec.steps) {
                try attack.step.run()
                _ = x.update(fromContentsOf: attack.step.output(0))
            }
            try logits.setInput("input", x)
            try logits.run()
            counts.append(count(logits.output(0), labels, valid))
        }
        return counts
    }

    func count(_ logits: UnsafeBufferPointer<Float>, _ labels: [Int32], _ valid: Int) -> Int {
        var hits = 0
        for i in 0..<valid {
            let row = logits[(i * classes)..<((i + 1) * classes)]
            if let best = row.indices.max(by: { row[$0] < row[$1] }), best - i * classes == Int(labels[i]) { hits += 1 }
        }
        return hits
    }
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
