import Graph
import Objectives

/// Where an attack starts, before its first step.
public enum AttackStart: Sendable {
    /// s itself (FGSM, PGD without random start).
    case clean
    /// s + scale·N(0, 1), not clamped (the TRADES training attack, scale 0.001).
    case normal(scale: Double)
    /// Uniform in the ε-ball of the norm, clamped to [0, 1] (Madry's PGD, evaluation).
    case uniform(norm: Norm, epsilon: Double)

}

/// The starting batch for images [N, D] (D values per image), from a keyed generator.
public func startingPoint(_ images: [Float], count n: Int, _ start: AttackStart, _ rng: inout SplitMix64) -> [Float] {
    switch start {
    case .clean:
        return images
    case .normal(let scale):
        return images.map { $0 + Float(rng.normal() * scale) }
    case .uniform(.linf, let eps):
        return images.map { Swift.min(Swift.max($0 + Float((rng.uniform() * 2 - 1) * eps), 0), 1) }
    case .uniform(.l2, let eps):
        // A uniformly random direction at a uniformly random radius in the ℓ2 ball, per image.
        var x = images
        let d = images.count / Swift.max(n, 1)
        for image in 0..<n {
            let direction = (0..<d).map { _ in rng.normal() }
            let length = direction.reduce(0) { $0 + $1 * $1 }.squareRoot()
            let radius = eps * rng.uniform()
            for j in 0..<d {
                let k = image * d + j
                x[k] = Swift.min(Swift.max(images[k] + Float(direction[j] / length * radius), 0), 1)
            }
        }
        return x
    }
}
