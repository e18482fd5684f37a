import Graph

/// Square Attack (Andriushchenko, Croce, Flammarion & Hein, ECCV 2020, "Square Attack: a
/// query-efficient black-box adversarial attack via random search"; AutoAttack's `square.py`):
/// random search on the margin z_y − max_{j≠y} z_j, reading only the model's logits. Each
/// iteration proposes, per still-robust row, a change on a random square window whose side
/// shrinks on a fixed schedule; a proposal is kept when it lowers the margin (or fools the
/// model).
///   ℓ∞: start at x ± ε in vertical stripes (one random sign per channel and column); a
///       proposal sets one window, per channel, to x_best ± 2ε, projected to the ball and box.
///   ℓ2: start from a grid of ±"η" blocks (centred concentric rectangles, positive over
///       negative halves) scaled to ‖δ‖ = ε; a proposal moves the mass of a second window
///       into a first one, replaced there by a fresh η block plus the old content.
///
/// Queries: `queries` iterations per restart, each one forward pass of the whole batch (the
/// graph's batch is static); rows already fooled are carried along and not updated.
/// Deviations from the reference: randomness is drawn per row (the reference shares one
/// window, η pattern and sign per iteration across the batch), so a row's search does not
/// depend on which rows share its batch; window corners are uniform over all H − s + 1
/// positions as in the paper (the reference's integer draw never picks the last one); the
/// side rounds halves away from zero (Python rounds them to even).
public struct SquareAttack: Attack {
    public var name: String
    public var threat: ThreatModel
    public var queries: Int
    /// Fraction of the image the first windows cover (the side is √(p·H·W)).
    public var pInit: Double
    public var restarts: Int
    public var isWhiteBox: Bool { false }

    public init(name: String, threat: ThreatModel, queries: Int, pInit: Double, restarts: Int) {
        precondition(queries >= 1 && restarts >= 1 && pInit > 0 && pInit <= 1, "Square: queries, restarts ≥ 1 and 0 < p_init ≤ 1")
        self.name = name; self.threat = threat; self.queries = queries; self.pInit = pInit; self.restarts = restarts
    }

    public func perturb(_ model: AttackedModel, images: [Float], labels: [Int32], rng: inout SplitMix64) throws -> [Float] {
        precondition(model.inputShape.count == 4, "Square works on images [N, C, H, W]")
        var robust = model.correct(try model.logits(images), labels)
        var adversarial = images
        for _ in 0..<restarts where robust.contains(true) {
            let found = try singleRun(model, images: images, labels: labels, rows: robust, rng: &rng)
            let correct = model.correct(try model.logits(found), labels)
            for row in labels.indices where robust[row] && !correct[row] {
                robust[row] = false
                copyRow(row, from: found, to: &adversarial, imageSize: model.imageSize)
            }
        }
        return adversarial
    }

    /// The fraction p of the image a window covers at `iteration` (the reference's schedule
    /// for 10 000 queries, rescaled to `queries`): p_init halved after 10, 50, 200, 500, 1000,
    /// 2000, 4000, 6000 and 8000 (rescaled) iterations.
    public func windowFraction(iteration: Int) -> Double {
        let scaled = Int(Double(iteration) / Double(queries) * 10000)
        let halvings = [10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000].filter { scaled > $0 }.count
        return pInit / Double(1 << halvings)
    }

    /// The per-row margins z_y − max_{j≠y} z_j [N] of logits [N, K].
    func margins(_ logits: [Float], labels: [Int32], classes k: Int) -> [Float] {
        labels.indices.map { row in
            let y = Int(labels[row])
            var other = -Float.infinity
            for j in 0..<k where j != y { other = Swift.max(other, logits[row * k + j]) }
            return logits[row * k + y] - other
        }
    }

    /// One run of `queries` iterations on the rows marked in `rows`: the best point per row.
    func singleRun(_ model: AttackedModel, images x: [Float], labels: [Int32], rows: [Bool],
                   rng: inout SplitMix64) throws -> [Float] {
        let shape = ImageShape(channels: model.inputShape[1], height: model.inputShape[2], width: model.inputShape[3])
        let (n, d) = (labels.count, model.imageSize)
        var best = x
        for row in 0..<n where rows[row] {
            let range = (row * d)..<((row + 1) * d)
            let start = threat.norm == .linf ? stripesStart(x[range], shape, &rng) : blocksStart(x[range], shape, &rng)
            best.replaceSubrange(range, with: start)
        }
        var bestMargin = margins(try model.logits(best), labels: labels, classes: model.classes)
        var active = (0..<n).map { rows[$0] && bestMargin[$0] > 0 }
        for iteration in 0..<queries where active.contains(true) {
            let p = windowFraction(iteration: iteration)
            var candidate = best
            for row in 0..<n where active[row] {
                let range = (row * d)..<((row + 1) * d)
                let proposal = threat.norm == .linf
                    ? linfProposal(clean: x[range], best: best[range], shape, p, &rng)
                    : l2Proposal(clean: x[range], best: best[range], shape, p, &rng)
                candidate.replaceSubrange(range, with: proposal)
            }
            let margin = margins(try model.logits(candidate), labels: labels, classes: model.classes)
            for row in 0..<n where active[row] && (margin[row] < bestMargin[row] || margin[row] <= 0) {
                bestMargin[row] = margin[row]
                copyRow(row, from: candidate, to: &best, imageSize: d)
                active[row] = margin[row] > 0
            }
        }
        return best
    }

    // MARK: ℓ∞

    /// x + ε·s clamped, with one sign s per channel and column (vertical stripes).
    func stripesStart(_ clean: ArraySlice<Float>, _ shape: ImageShape, _ rng: inout SplitMix64) -> [Float] {
        var out = Array(clean)
        let eps = Float(threat.epsilon)
        for c in 0..<shape.channels {
            for column in 0..<shape.width {
                let sign = randomSign(&rng)
                for i in 0..<shape.height {
                    let k = shape.index(c, i, column)
                    out[k] = Swift.min(Swift.max(out[k] + sign * eps, 0), 1)
                }
            }
        }
        return out
    }

    /// One window of side √(p·H·W) set, per channel, to x_best ± 2ε, then projected onto
    /// the ε-ball around x and [0, 1] (so it lands on a face of the ball).
    func linfProposal(clean: ArraySlice<Float>, best: ArraySlice<Float>, _ shape: ImageShape, _ p: Double,
                      _ rng: inout SplitMix64) -> [Float] {
        let side = Swift.min(Swift.max(shape.side(fraction: p), 1), Swift.min(shape.height, shape.width))
        let (top, left) = (randomInt(through: shape.height - side, &rng), randomInt(through: shape.width - side, &rng))
        let eps = Float(threat.epsilon)
        var out = Array(best)
        let base = clean.startIndex
        for c in 0..<shape.channels {
            let change = 2 * eps * randomSign(&rng)
            for i in top..<(top + side) {
                for j in left..<(left + side) {
                    let k = shape.index(c, i, j)
                    let x = clean[base + k]
                    out[k] = Swift.min(Swift.max(Swift.min(Swift.max(out[k] + change, x - eps), x + eps), 0), 1)
                }
            }
        }
        return out
    }

    // MARK: ℓ2

    /// A grid of side-⌊H/5⌋ η blocks with a random sign per channel and block, centred,
    /// scaled to ‖δ‖₂ = ε, then clamped.
    func blocksStart(_ clean: ArraySlice<Float>, _ shape: ImageShape, _ rng: inout SplitMix64) -> [Float] {
        let side = Swift.max(shape.height / 5, 1)
        let offset = (shape.height - side * 5) / 2
        var delta = [Double](repeating: 0, count: clean.count)
        for a in 0..<(shape.height / side) {
            for b in 0..<(shape.width / side) {
                let block = etaBlock(side, &rng)
                for c in 0..<shape.channels {
                    let sign = Double(randomSign(&rng))
                    for i in 0..<side where offset + a * side + i < shape.height {
                        for j in 0..<side where offset + b * side + j < shape.width {
                            delta[shape.index(c, offset + a * side + i, offset + b * side + j)] += sign * block[i * side + j]
                        }
                    }
                }
            }
        }
        return onSphere(clean, delta)
    }

    /// Moves the perturbation's mass from a random window W2 into a random window W1 (side
    /// √(p·H·W), odd, ≥ 3): per channel, W1 becomes η·(±1) plus W1's old direction, rescaled
    /// so that the channel's energy in W1 ∪ W2 plus its share of the unused budget
    /// ε² − ‖δ‖² goes there; W2 is cleared. The result is rescaled to ‖δ‖₂ = ε and clamped.
    func l2Proposal(clean: ArraySlice<Float>, best: ArraySlice<Float>, _ shape: ImageShape, _ p: Double,
                    _ rng: inout SplitMix64) -> [Float] {
        var side = Swift.max(shape.side(fraction: p), 3)
        if side % 2 == 0 { side += 1 }
        side = Swift.min(side, Swift.min(shape.height, shape.width))
        let first = (randomInt(through: shape.height - side, &rng), randomInt(through: shape.width - side, &rng))
        let second = (randomInt(through: shape.height - side, &rng), randomInt(through: shape.width - side, &rng))
        func inWindow(_ w: (Int, Int), _ i: Int, _ j: Int) -> Bool { i >= w.0 && i < w.0 + side && j >= w.1 && j < w.1 + side }

        var delta = zip(best, clean).map { Double($0) - Double($1) }
        let unusedBudget = Swift.max(threat.epsilon * threat.epsilon - delta.reduce(0) { $0 + $1 * $1 }, 0)
        let block = etaBlock(side, &rng)
        for c in 0..<shape.channels {
            var (firstEnergy, unionEnergy) = (0.0, 0.0)
            for i in 0..<shape.height {
                for j in 0..<shape.width {
                    let v = delta[shape.index(c, i, j)]
                    if inWindow(first, i, j) { firstEnergy += v * v }
                    if inWindow(first, i, j) || inWindow(second, i, j) { unionEnergy += v * v }
                }
            }
            let sign = Double(randomSign(&rng))
            let oldScale = 1 / (1e-12 + firstEnergy.squareRoot())
            var fresh = [Double](repeating: 0, count: side * side)
            for i in 0..<side {
                for j in 0..<side {
                    fresh[i * side + j] = block[i * side + j] * sign + delta[shape.index(c, first.0 + i, first.1 + j)] * oldScale
                }
            }
            let freshNorm = fresh.reduce(0) { $0 + $1 * $1 }.squareRoot()
            let target = (unusedBudget / Double(shape.channels) + unionEnergy).squareRoot()
            for i in 0..<side { for j in 0..<side { delta[shape.index(c, second.0 + i, second.1 + j)] = 0 } }
            for i in 0..<side {
                for j in 0..<side { delta[shape.index(c, first.0 + i, first.1 + j)] = fresh[i * side + j] / (1e-12 + freshNorm) * target }
            }
        }
        return onSphere(clean, delta)
    }

    /// x + ε·δ/‖δ‖₂, clamped to [0, 1] (the clamp only shortens δ).
    func onSphere(_ clean: ArraySlice<Float>, _ delta: [Double]) -> [Float] {
        let scale = threat.epsilon / (delta.reduce(0) { $0 + $1 * $1 }.squareRoot() + 1e-12)
        return zip(clean, delta).map { Float(Swift.min(Swift.max(Double($0) + $1 * scale, 0), 1)) }
    }

    /// The ℓ2 attack's square pattern [side·side], unit ℓ2 norm: the top ⌊side/2⌋ rows hold
    /// centred concentric rectangles weighted Σ_{k ≥ ring} 1/(k+1)², the bottom rows the same
    /// pattern negated; transposed with probability ½.
    func etaBlock(_ side: Int, _ rng: inout SplitMix64) -> [Double] {
        let upper = side / 2
        var block = rectangles(rows: upper, columns: side) + rectangles(rows: side - upper, columns: side).map { -$0 }
        normalize(&block)
        guard rng.uniform() < 0.5 else { return block }
        var transposed = block
        for i in 0..<side { for j in 0..<side { transposed[j * side + i] = block[i * side + j] } }
        return transposed
    }

    /// Concentric rectangles around the centre (⌊rows/2⌋, ⌊columns/2⌋) [rows·columns], unit
    /// ℓ2 norm: a cell at Chebyshev distance m from the centre gets Σ_{k=m}^{K−1} 1/(k+1)².
    func rectangles(rows: Int, columns: Int) -> [Double] {
        guard rows > 0 else { return [] }
        let rings = Swift.max(rows / 2 + 1, columns / 2 + 1)
        var out = [Double](repeating: 0, count: rows * columns)
        for i in 0..<rows {
            for j in 0..<columns {
                let ring = Swift.max(abs(i - rows / 2), abs(j - columns / 2))
                for k in ring..<rings { out[i * columns + j] += 1 / Double((k + 1) * (k + 1)) }
            }
        }
        normalize(&out)
        return out
    }

    func normalize(_ v: inout [Double]) {
        let length = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
        if length > 0 { for i in v.indices { v[i] /= length } }
    }

    func randomSign(_ rng: inout SplitMix64) -> Float { rng.uniform() < 0.5 ? -1 : 1 }
    /// Uniform in 0…upper.
    func randomInt(through upper: Int, _ rng: inout SplitMix64) -> Int { Swift.min(Int(rng.uniform() * Double(upper + 1)), upper) }
}

/// C×H×W layout of one image (channel-major, row-major within a channel).
struct ImageShape {
    var channels, height, width: Int
    func index(_ c: Int, _ i: Int, _ j: Int) -> Int { (c * height + i) * width + j }
    /// The side of a square covering the fraction `p` of one channel, rounded.
    func side(fraction p: Double) -> Int { Int((p * Double(height * width)).squareRoot().rounded()) }
}
