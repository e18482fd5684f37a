import Graph

/// Auto-PGD (Croce & Hein, ICML 2020; AutoAttack's `autopgd_base.py`): PGD with momentum
/// whose step size starts at 2ε and halves at checkpoints where the loss stalled, restarting
/// from the best point found. Untargeted on CE (APGD-CE) or DLR (APGD-DLR), or targeted on
/// the targeted DLR loss against the 2nd…(targets+1)-th most likely classes (APGD-T).
///
/// Defaults are AutoAttack's `standard` version: 100 iterations, 1 restart, ρ = 0.75,
/// momentum 0.75, 9 targets. The loop runs on the host over per-example vectors; each
/// iteration is `eot` runs of the compiled loss-and-gradient graph.
public struct APGD: Attack {
    public var name: String
    public var loss: AttackLoss
    public var threat: ThreatModel
    public var iterations: Int
    public var restarts: Int
    /// Fraction of the iterations since the last checkpoint that must have increased the loss.
    public var rho: Double
    public var momentum: Double
    /// APGD-T only: how many target classes (the 2nd, 3rd, … most likely).
    public var targets: Int
    /// Gradient samples averaged per iteration (expectation over transformation).
    public var eot: Int
    public var isWhiteBox: Bool { true }

    public init(name: String, loss: AttackLoss, threat: ThreatModel, iterations: Int = 100, restarts: Int = 1,
                rho: Double = 0.75, momentum: Double = 0.75, targets: Int = 9, eot: Int = 1) {
        precondition([.crossEntropy, .dlr, .targetedDLR].contains(loss), "APGD runs on CE, DLR or targeted DLR")
        precondition(iterations >= 1 && restarts >= 1 && eot >= 1 && targets >= 1)
        self.name = name
        self.loss = loss
        self.threat = threat
        self.iterations = iterations
        self.restarts = restarts
        self.rho = rho
        self.momentum = momentum
        self.targets = targets
        self.eot = eot
    }

    /// Iterations between the first two step-size checkpoints, the smallest gap, and how
    /// much the gap shrinks at each checkpoint (the paper's p_j: 0, 0.22, then gaps shrinking
    /// by 0.03 down to 0.06 of the budget).
    var schedule: (first: Int, minimum: Int, decrease: Int) {
        (Swift.max(Int(0.22 * Double(iterations)), 1), Swift.max(Int(0.06 * Double(iterations)), 1),
         Swift.max(Int(0.03 * Double(iterations)), 1))
    }

    public func perturb(_ model: AttackedModel, images: [Float], labels: [Int32], rng: inout SplitMix64) throws -> [Float] {
        let cleanLogits = try model.logits(images)
        var robust = model.correct(cleanLogits, labels)
        var adversarial = images
        let targetRanks: [Int?] = loss == .targetedDLR ? Array(2...(targets + 1)) : [nil]
        precondition(loss != .targetedDLR || targets <= model.classes - 1, "APGD-T: more targets than classes − 1")
        for rank in targetRanks {
            let targetLabels = rank.map { r in labels.indices.map { Int32(rankedClass(cleanLogits, row: $0, rank: r, classes: model.classes)) } }
            for _ in 0..<restarts where robust.contains(true) {
                let run = try singleRun(model, images: images, labels: labels, targetLabels: targetLabels, rng: &rng)
                for row in labels.indices where robust[row] && run.fooled[row] {
                    robust[row] = false
                    copyRow(row, from: run.foolingPoints, to: &adversarial, imageSize: model.imageSize)
                }
            }
        }
        return adversarial
    }

    /// The class with the `rank`-th largest logit (1 = the prediction).
    func rankedClass(_ logits: [Float], row: Int, rank: Int, classes: Int) -> Int {
        let order = (0..<classes).sorted { logits[row * classes + $0] > logits[row * classes + $1] }
        return order[rank - 1]
    }

    struct Run {
        var fooled: [Bool]
        /// Per row: the last point that fooled the model, where one did (else the start).
        var foolingPoints: [Float]
    }

    func singleRun(_ model: AttackedModel, images x: [Float], labels: [Int32], targetLabels: [Int32]?,
                   rng: inout SplitMix64) throws -> Run {
        let (n, d) = (labels.count, model.imageSize)
        var current = AttackStart.sphere(norm: threat.norm, epsilon: threat.epsilon).point(x, count: n, &rng)
        var (values, logits, gradient) = try averagedGradient(model, at: current, labels: labels, targetLabels: targetLabels)
        var fooled = model.correct(logits, labels).map { !$0 }
        var foolingPoint = current
        var best = current, bestGradient = gradient, bestValue = values
        var step = [Float](repeating: Float(2 * threat.epsilon), count: n)
        var previous = current
        // Loss history per iteration, read back over the last `gap` iterations at a checkpoint;
        // unset entries are 0 as in the reference (its first look-back reads one).
        var history = [[Float]](repeating: [Float](repeating: 0, count: n), count: iterations)
        var (gap, sinceCheckpoint) = (schedule.first, 0)
        var bestAtCheckpoint = bestValue
        var reducedAtCheckpoint = [Bool](repeating: true, count: n)

        for i in 0..<iterations {
            let a = Float(i > 0 ? momentum : 1)
            let direction = threat.ascentDirection(gradient, imageSize: d)
            var z = current
            z.withUnsafeMutableBufferPointer { z in
                direction.withUnsafeBufferPointer { direction in
                    for row in 0..<n {
                        let size = step[row]
                        for k in (row * d)..<((row + 1) * d) { z[k] += size * direction[k] }
                    }
                }
            }
            threat.project(&z, around: x, imageSize: d)
            var next = current
            next.withUnsafeMutableBufferPointer { next in
                current.withUnsafeBufferPointer { current in
                    z.withUnsafeBufferPointer { z in
                        previous.withUnsafeBufferPointer { previous in
                            for k in next.indices {
                                next[k] = current[k] + (z[k] - current[k]) * a + (current[k] - previous[k]) * (1 - a)
                            }
                        }
                    }
                }
            }
            threat.project(&next, around: x, imageSize: d)
            previous = current
            current = next

            (values, logits, gradient) = try averagedGradient(model, at: current, labels: labels, targetLabels: targetLabels)
            for (row, correct) in model.correct(logits, labels).enumerated() where !correct {
                fooled[row] = true
                copyRow(row, from: current, to: &foolingPoint, imageSize: d)
            }
            history[i] = values
            for row in 0..<n where values[row] > bestValue[row] {
                bestValue[row] = values[row]
                copyRow(row, from: current, to: &best, imageSize: d)
                copyRow(row, from: gradient, to: &bestGradient, imageSize: d)
            }

            sinceCheckpoint += 1
            guard sinceCheckpoint == gap else { continue }
            for row in 0..<n {
                var increases = 0
                for c in 0..<gap {
                    let later = history[(i - c + iterations) % iterations][row]
                    let earlier = history[(i - c - 1 + iterations) % iterations][row]
                    if later > earlier { increases += 1 }
                }
                let oscillating = Double(increases) <= Double(gap) * rho
                let stalled = !reducedAtCheckpoint[row] && bestAtCheckpoint[row] >= bestValue[row]
                reducedAtCheckpoint[row] = oscillating || stalled
                if oscillating || stalled {
                    step[row] /= 2
                    copyRow(row, from: best, to: &current, imageSize: d)
                    copyRow(row, from: bestGradient, to: &gradient, imageSize: d)
                }
            }
            bestAtCheckpoint = bestValue
            gap = Swift.max(gap - schedule.decrease, schedule.minimum)
            sinceCheckpoint = 0
        }
        return Run(fooled: fooled, foolingPoints: foolingPoint)
    }

    /// Loss and logits of the last sample and the gradient averaged over `eot` samples
    /// (identical samples unless the model is randomized).
    func averagedGradient(_ model: AttackedModel, at point: [Float], labels: [Int32], targetLabels: [Int32]?) throws
        -> ([Float], [Float], [Float]) {
        var result = try model.lossAndGradient(loss, at: point, labels: labels, targetLabels: targetLabels)
        guard eot > 1 else { return result }
        for _ in 1..<eot {
            let sample = try model.lossAndGradient(loss, at: point, labels: labels, targetLabels: targetLabels)
            for k in result.gradient.indices { result.gradient[k] += sample.gradient[k] }
            (result.loss, result.logits) = (sample.loss, sample.logits)
        }
        let scale = 1 / Float(eot)
        for k in result.gradient.indices { result.gradient[k] *= scale }
        return result
    }
}
