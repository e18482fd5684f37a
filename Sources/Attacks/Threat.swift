import Graph

/// The norm of a threat model's ball.
public enum Norm: String, CaseIterable, Hashable, Sendable { case linf, l2 }

/// Where an attack may move an input: the ε-ball of `norm` around it, intersected with [0, 1].
public struct ThreatModel: Hashable, Sendable {
    public var norm: Norm
    public var epsilon: Double
    /// The step of fixed-step attacks (PGD); APGD and FAB choose their own.
    public var stepSize: Double

    public init(norm: Norm, epsilon: Double, stepSize: Double) {
        self.norm = norm
        self.epsilon = epsilon
        self.stepSize = stepSize
    }

    /// Projects every image of `x` [N, D] onto the ball around `clean` and clamps to [0, 1].
    /// ℓ2: rescale δ to ‖δ‖ ≤ ε, then clamp (AutoAttack's order: the clamp can only shrink δ).
    public func project(_ x: inout [Float], around clean: [Float], imageSize d: Int) {
        let eps = Float(epsilon)
        switch norm {
        case .linf:
            x.withUnsafeMutableBufferPointer { x in
                clean.withUnsafeBufferPointer { clean in
                    for i in x.indices { x[i] = Swift.min(Swift.max(Swift.min(Swift.max(x[i], clean[i] - eps), clean[i] + eps), 0), 1) }
                }
            }
        case .l2:
            for start in stride(from: 0, to: x.count, by: d) {
                var squares: Float = 0
                for j in start..<(start + d) { squares += (x[j] - clean[j]) * (x[j] - clean[j]) }
                let scale = Swift.min(1, eps / (squares.squareRoot() + 1e-12))
                for j in start..<(start + d) { x[j] = Swift.min(Swift.max(clean[j] + (x[j] - clean[j]) * scale, 0), 1) }
            }
        }
    }

    /// The direction of steepest ascent of a linear function with gradient `g`, per image:
    /// sign(g) for ℓ∞, g/‖g‖₂ for ℓ2 (zero gradients give a zero step).
    public func ascentDirection(_ g: [Float], imageSize d: Int) -> [Float] {
        switch norm {
        case .linf:
            return g.map { $0 > 0 ? 1 : ($0 < 0 ? -1 : 0) }
        case .l2:
            var out = g
            for start in stride(from: 0, to: g.count, by: d) {
                var squares: Float = 0
                for j in start..<(start + d) { squares += g[j] * g[j] }
                let inverse = 1 / (squares.squareRoot() + 1e-12)
                for j in start..<(start + d) { out[j] = g[j] * inverse }
            }
            return out
        }
    }
}

/// Where an attack starts, before its first step.
public enum AttackStart: Hashable, Sendable {
    /// s itself (FGSM, PGD without random start).
    case clean
    /// s + scale·N(0, 1), not clamped (the TRADES training attack, scale 0.001).
    case normal(scale: Double)
    /// Uniform in the ε-ball of the norm, clamped to [0, 1] (Madry's PGD, evaluation).
    case uniform(norm: Norm, epsilon: Double)
    /// On the sphere of radius ε (uniform sign box corner scaled for ℓ∞: AutoAttack's APGD
    /// start x + ε·t/‖t‖∞ with t uniform in [−1, 1]; ℓ2: x + ε·t/‖t‖₂ with t Gaussian), clamped.
    case sphere(norm: Norm, epsilon: Double)

    /// How many `next()` calls `point` makes per image of D values (uniform: 1, normal: 2),
    /// so that a rank holding rows r..<r+n of a larger batch draws exactly what those rows
    /// draw in the whole batch (`SplitMix64.skip`).
    public func drawsPerImage(values d: Int) -> Int {
        switch self {
        case .clean: 0
        case .normal: 2 * d
        case .uniform(.linf, _): d
        case .uniform(.l2, _): 2 * d + 1
        case .sphere(.linf, _): d
        case .sphere(.l2, _): 2 * d
        }
    }

    /// The starting batch for images [N, D] (D values per image), from a keyed generator.
    public func point(_ images: [Float], count n: Int, _ rng: inout SplitMix64) -> [Float] {
        let d = images.count / Swift.max(n, 1)
        switch self {
        case .clean:
            return images
        case .normal(let scale):
            return images.map { $0 + Float(rng.normal() * scale) }
        case .uniform(.linf, let eps):
            return images.map { Swift.min(Swift.max($0 + Float((rng.uniform() * 2 - 1) * eps), 0), 1) }
        case .uniform(.l2, let eps):
            // A uniformly random direction at a uniformly random radius, per image.
            return perImage(images, n: n, d: d) { _ in rng.normal() } radius: { eps * rng.uniform() }
        case .sphere(.linf, let eps):
            return perImage(images, n: n, d: d, norm: .linf) { _ in rng.uniform() * 2 - 1 } radius: { eps }
        case .sphere(.l2, let eps):
            return perImage(images, n: n, d: d) { _ in rng.normal() } radius: { eps }
        }
    }

    private func perImage(_ images: [Float], n: Int, d: Int, norm: Norm = .l2, draw: (Int) -> Double,
                          radius: () -> Double) -> [Float] {
        var x = images
        for image in 0..<n {
            let direction = (0..<d).map(draw)
            let length = norm == .l2 ? direction.reduce(0) { $0 + $1 * $1 }.squareRoot()
                                     : direction.reduce(0) { Swift.max($0, abs($1)) }
            let (r, l) = (radius(), Swift.max(length, 1e-300))
            for j in 0..<d {
                let k = image * d + j
                x[k] = Swift.min(Swift.max(images[k] + Float(direction[j] / l * r), 0), 1)
            }
        }
        return x
    }
}
