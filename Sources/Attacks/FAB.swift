import Graph

/// Targeted Fast Adaptive Boundary attack, FAB-T (Croce & Hein, ICML 2020, "Minimally
/// distorted adversarial examples with a fast adaptive boundary attack"; AutoAttack's
/// `fab_base.py` / `fab_pt.py`, targeted branch). A minimal-norm attack: per target class t
/// it linearizes the decision boundary z_t = z_y at the current iterate, projects both the
/// iterate and the clean point onto that hyperplane inside [0, 1]ᴰ, and steps to a convex
/// combination biased towards the clean point; whenever the iterate is adversarial it keeps
/// the smallest-norm one and steps back towards the clean point (β). A row counts as broken
/// when the smallest adversarial found has norm ≤ ε.
///
/// Defaults are AutoAttack's `standard` version: 100 iterations, 1 restart, 9 targets (the
/// 2nd…10th most likely classes), α_max = 0.1, η = 1.05, β = 0.9. Restarts after the first
/// start at x + (ε/2)·t/‖t‖ (t uniform in [−1, 1]ᴰ for ℓ∞, Gaussian for ℓ2), clamped.
///
/// Each iteration is one pass of the compiled `logitDifference` loss-and-gradient graph and
/// one forward pass (the prediction after the step); the projections run on the host, one
/// sorted sweep per example (`BoxedHyperplaneProjection`) where the reference bisects over a
/// batch. Success is judged as in the reference: the returned point is misclassified and its
/// norm is ≤ ε.
public struct FABTargeted: Attack {
    public var name: String
    public var threat: ThreatModel
    public var iterations: Int, restarts: Int, targets: Int
    /// Largest weight of the clean point's projection in the step (the bias towards x).
    public var alphaMax: Double
    /// Overshoot of each projection step past the linearized boundary.
    public var eta: Double
    /// Backward step: an adversarial iterate moves to x + β·(x_adv − x).
    public var beta: Double
    public var isWhiteBox: Bool { true }

    public init(name: String, threat: ThreatModel, iterations: Int, restarts: Int, targets: Int, alphaMax: Double, eta: Double, beta: Double) {
        precondition(iterations >= 1 && restarts >= 1 && targets >= 1, "FAB-T needs iterations, restarts and targets ≥ 1")
        self.name = name; self.threat = threat; self.iterations = iterations; self.restarts = restarts
        self.targets = targets; self.alphaMax = alphaMax; self.eta = eta; self.beta = beta
    }

    /// Per row: the smallest adversarial found over the targets and restarts tried while the
    /// row was still robust, if its norm is ≤ ε; else the clean image.
    public func perturb(_ model: AttackedModel, images: [Float], labels: [Int32], rng: inout SplitMix64) throws -> [Float] {
        let (k, d) = (model.classes, model.imageSize)
        precondition(targets <= k - 1, "FAB-T: \(targets) targets, but \(k) classes leave only \(k - 1)")
        let cleanLogits = try model.logits(images)
        var robust = model.correct(cleanLogits, labels)
        var adversarial = images
        // Classes by decreasing clean logit; rank r (2…targets+1) is the r-th most likely.
        let ranking = labels.indices.map { row in (0..<k).sorted { cleanLogits[row * k + $0] > cleanLogits[row * k + $1] } }
        for rank in 2...(targets + 1) {
            let targetLabels = ranking.map { Int32($0[rank - 1]) }
            for restart in 0..<restarts where robust.contains(true) {
                let run = try singleRun(model, images: images, labels: labels, targetLabels: targetLabels,
                                        rows: robust, randomStart: restart > 0, rng: &rng)
                // As the reference, a row is broken only if its point is misclassified and within ε.
                let correct = model.correct(try model.logits(run.points), labels)
                for row in labels.indices where robust[row] && !correct[row] && run.norms[row] <= threat.epsilon {
                    robust[row] = false
                    copyRow(row, from: run.points, to: &adversarial, imageSize: d)
                }
            }
        }
        return adversarial
    }

    struct Run {
        /// Per row: the smallest-norm adversarial found, or the clean image.
        var points: [Float]
        /// Its norm ‖x_adv − x‖ (infinity where none was found).
        var norms: [Double]
    }

    /// One FAB-T run against `targetLabels` on the rows marked in `rows` (the graph runs on
    /// the whole batch; other rows are carried along unchanged and ignored).
    func singleRun(_ model: AttackedModel, images x: [Float], labels: [Int32], targetLabels: [Int32],
                   rows: [Bool], randomStart: Bool, rng: inout SplitMix64) throws -> Run {
        let (n, d) = (labels.count, model.imageSize)
        var current = randomStart
            ? AttackStart.sphere(norm: threat.norm, epsilon: threat.epsilon / 2).point(x, count: n, &rng) : x
        var best = x
        var bestNorm = [Double](repeating: .infinity, count: n)
        let projector = BoxedHyperplaneProjection(norm: threat.norm)

        for _ in 0..<iterations {
            // gap = z_t − z_y at the iterate; its gradient is the boundary's normal there.
            let (gap, _, gradient) = try model.lossAndGradient(.logitDifference, at: current, labels: labels,
                                                               targetLabels: targetLabels)
            for row in 0..<n where rows[row] {
                let range = (row * d)..<((row + 1) * d)
                let w = gradient[range], iterate = current[range], clean = x[range]
                // Linearized boundary {p : gap + w·(p − iterate) = 0}: from a point q it needs
                // w·δ = −gap + w·(iterate − q).
                var shift = 0.0
                for j in range { shift += Double(gradient[j]) * Double(current[j] - x[j]) }
                let fromIterate = projector.step(from: iterate, normal: w, offset: -Double(gap[row]))
                let fromClean = projector.step(from: clean, normal: w, offset: -Double(gap[row]) + shift)
                // α = ‖δ_iterate‖ / (‖δ_iterate‖ + ‖δ_clean‖), capped at α_max: the closer the
                // iterate is to the boundary relative to x, the more the step leans to x.
                let a1 = Swift.max(norm(fromIterate), 1e-8), a2 = Swift.max(norm(fromClean), 1e-8)
                let alpha = Swift.min(Swift.max(a1 / (a1 + a2), 0), alphaMax)
                for (j, index) in range.enumerated() {
                    let towardsBoundary = (Double(current[index]) + eta * fromIterate[j]) * (1 - alpha)
                    let fromOrigin = (Double(x[index]) + eta * fromClean[j]) * alpha
                    current[index] = Float(Swift.min(Swift.max(towardsBoundary + fromOrigin, 0), 1))
                }
            }
            let correct = model.correct(try model.logits(current), labels)
            for row in 0..<n where rows[row] && !correct[row] {
                let range = (row * d)..<((row + 1) * d)
                let distance = norm(range.map { Double(current[$0]) - Double(x[$0]) })
                if distance < bestNorm[row] {
                    bestNorm[row] = distance
                    copyRow(row, from: current, to: &best, imageSize: d)
                }
                for j in range { current[j] = x[j] + (current[j] - x[j]) * Float(beta) }
            }
        }
        return Run(points: best, norms: bestNorm)
    }

    func norm(_ v: [Double]) -> Double {
        switch threat.norm {
        case .linf: v.reduce(0) { Swift.max($0, abs($1)) }
        case .l2: v.reduce(0) { $0 + $1 * $1 }.squareRoot()
        }
    }
}

/// The smallest step δ (in ℓ∞ or ℓ2) from a point p ∈ [0, 1]ᴰ onto the hyperplane w·δ = c
/// that stays in the box (0 ≤ p + δ ≤ 1): FAB's projection (the reference's
/// `projection_linf` / `projection_l2`), solved here for one hyperplane by a sweep over the
/// sorted breakpoints of a monotone piecewise-linear function.
///
/// Each coordinate moves only in the direction that helps, σ·sign(w_i) with σ = sign(c),
/// up to its room to the box edge, r_i = 1 − p_i or p_i.
///   ℓ∞: δ_i = σ·sign(w_i)·min(ρ, r_i), with ρ solving Σ |w_i| min(ρ, r_i) = |c|.
///   ℓ2 (KKT): δ_i = σ·sign(w_i)·min(λ|w_i|, r_i), with λ solving Σ |w_i| min(λ|w_i|, r_i) = |c|.
/// If the hyperplane misses the box, every coordinate moves to its edge: the box corner
/// closest to the hyperplane (the reference's corner cases differ in detail; the caller's
/// clamp to [0, 1] follows either way).
struct BoxedHyperplaneProjection {
    var norm: Norm

    func step(from point: ArraySlice<Float>, normal w: ArraySlice<Float>, offset c: Double) -> [Double] {
        let d = point.count
        var delta = [Double](repeating: 0, count: d)
        guard c != 0 else { return delta }
        let sigma: Double = c > 0 ? 1 : -1
        // Per moving coordinate: its direction, |w_i|, room r_i, and the breakpoint where it saturates.
        var moving = [(index: Int, direction: Double, weight: Double, room: Double, breakpoint: Double)]()
        moving.reserveCapacity(d)
        for (i, (p, wi)) in zip(point, w).enumerated() where wi != 0 {
            let direction = sigma * (wi > 0 ? 1 : -1)
            let room = direction > 0 ? 1 - Double(p) : Double(p)
            let weight = Double(abs(wi))
            moving.append((i, direction, weight, room, norm == .linf ? room : room / weight))
        }
        moving.sort { $0.breakpoint < $1.breakpoint }
        // Slope of the function beyond each breakpoint's predecessor: Σ over unsaturated
        // coordinates of |w_i| (ℓ∞) or w_i² (ℓ2), as suffix sums so no cancellation creeps in.
        var slope = [Double](repeating: 0, count: moving.count + 1)
        for m in stride(from: moving.count - 1, through: 0, by: -1) {
            slope[m] = slope[m + 1] + (norm == .linf ? moving[m].weight : moving[m].weight * moving[m].weight)
        }
        let goal = abs(c)
        var (reached, previous) = (0.0, 0.0)
        var parameter = moving.last?.breakpoint ?? 0   // all saturated unless the sweep stops earlier
        for m in moving.indices {
            let atBreakpoint = reached + slope[m] * (moving[m].breakpoint - previous)
            if atBreakpoint >= goal {
                parameter = previous + (goal - reached) / slope[m]
                break
            }
            (reached, previous) = (atBreakpoint, moving[m].breakpoint)
        }
        for entry in moving {
            let size = norm == .linf ? parameter : parameter * entry.weight
            delta[entry.index] = entry.direction * Swift.min(size, entry.room)
        }
        return delta
    }
}
