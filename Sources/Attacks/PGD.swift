import Graph

/// Projected gradient ascent with a fixed step (Madry et al. 2018) on any attack loss: the
/// training attack (TRADES's KL from s + 0.001·N(0,1)), PGD-k and CW-k in evaluation, and
/// FGSM as its one-step case (step ε from the clean point). Each step is one run of the
/// fused step graph; with restarts, a row keeps the first point that fooled the model.
public struct PGD: Attack {
    public var name: String
    public var loss: AttackLoss
    public var threat: ThreatModel
    public var steps: Int
    public var start: AttackStart
    public var restarts: Int
    public var isWhiteBox: Bool { true }

    public init(name: String, loss: AttackLoss, threat: ThreatModel, steps: Int, start: AttackStart, restarts: Int = 1) {
        precondition(steps >= 1 && restarts >= 1, "PGD needs at least one step and one restart")
        self.name = name
        self.loss = loss
        self.threat = threat
        self.steps = steps
        self.start = start
        self.restarts = restarts
    }

    /// FGSM (Goodfellow et al. 2015): one step of ε from the clean point.
    public static func fgsm(threat: ThreatModel, loss: AttackLoss = .crossEntropy, name: String = "fgsm") -> PGD {
        var oneStep = threat
        oneStep.stepSize = threat.epsilon
        return PGD(name: name, loss: loss, threat: oneStep, steps: 1, start: .clean)
    }

    public func perturb(_ model: AttackedModel, images: [Float], labels: [Int32], rng: inout SplitMix64) throws -> [Float] {
        try perturb(model, images: images, labels: labels, rng: &rng, rows: nil)
    }

    /// `rows`: where this batch sits in a larger one split over data-parallel ranks (the
    /// first row's index and the whole batch's row count); the random starts are then those
    /// the whole batch draws for these rows, whatever the split.
    public func perturb(_ model: AttackedModel, images: [Float], labels: [Int32], rng: inout SplitMix64,
                        rows: (first: Int, of: Int)?) throws -> [Float] {
        let graph = try model.stepGraph(loss, threat)
        try graph.setInput("input/clean", images)
        try graph.setInput("label", model.oneHot(labels))
        if loss == .kl { try graph.setInput("target", try model.logits(images)) }
        let x = try graph.input("input/adversarial")
        var best = images
        var fooled = [Bool](repeating: false, count: labels.count)
        for restart in 0..<restarts {
            let perImage = start.drawsPerImage(values: model.imageSize)
            if let rows { rng.skip(rows.first * perImage) }
            _ = x.update(fromContentsOf: start.point(images, count: model.batch, &rng))
            if let rows { rng.skip((rows.of - rows.first - model.batch) * perImage) }
            for _ in 0..<steps {
                try graph.run()
                _ = x.update(fromContentsOf: graph.output(0))
            }
            let found = Array(x)
            if restarts == 1 { return found }
            let correct = model.correct(try model.logits(found), labels)
            for row in labels.indices where !fooled[row] && (!correct[row] || restart == 0) {
                copyRow(row, from: found, to: &best, imageSize: model.imageSize)
                fooled[row] = !correct[row]
            }
        }
        return best
    }
}
