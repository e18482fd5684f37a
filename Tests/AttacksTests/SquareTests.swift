import Attacks
import Graph
import Testing

// Square on a linear classifier: a score-based attack that must reach the corner (ℓ∞) or the
// sphere point (ℓ2) beyond the nearest boundary, using only logits.

private func square(_ norm: Norm, epsilon: Double, queries: Int = 5000) -> SquareAttack {
    SquareAttack(name: "square", threat: ThreatModel(norm: norm, epsilon: epsilon, stepSize: 0), queries: queries,
                 pInit: 0.8, restarts: 1)
}

@Test("Square breaks a linear classifier at ε = 2× the largest minimal norm, queries only logits, stays in the ball and box",
      arguments: Norm.allCases)
func squareBreaksLinearModel(norm: Norm) throws {
    let problem = LinearProblem(classes: 10, batch: 16, imageShape: [1, 8, 8], seed: 21)
    let model = try problem.attackedModel()
    let epsilon = 2 * (0..<problem.batch).map { problem.minimalDistance(row: $0, norm: norm) }.max()!
    var rng = SplitMix64(seed: 3)
    let found = try square(norm, epsilon: epsilon).perturb(model, images: problem.images, labels: problem.labels, rng: &rng)
    #expect(model.gradientPasses == 0)
    #expect(model.forwardPasses > 1)
    let robust = (0..<problem.batch).filter { problem.isCorrect(found, row: $0) }.count
    #expect(Double(robust) <= 0.2 * Double(problem.batch), "robust \(robust)/\(problem.batch)")
    #expect(found.allSatisfy { $0 >= 0 && $0 <= 1 })
    for row in 0..<problem.batch {
        let size = problem.perturbationNorm(found, row: row, norm: norm)
        if norm == .linf { #expect(size <= epsilon + 1e-6) } else { #expect(size <= epsilon * (1 + 1e-5)) }
    }
    print("Square \(norm): robust \(robust)/\(problem.batch) after \(model.forwardPasses) forward passes")
}

@Test("Square is deterministic in the seed, depends on it, and returns the clean image where it fails",
      arguments: Norm.allCases)
func squareIsDeterministic(norm: Norm) throws {
    let problem = LinearProblem(classes: 4, batch: 8, imageShape: [2, 6, 6], seed: 22)
    let model = try problem.attackedModel()
    let distances = (0..<problem.batch).map { problem.minimalDistance(row: $0, norm: norm) }
    let breakable = square(norm, epsilon: 2 * distances.max()!, queries: 200)
    var (first, second, other) = (SplitMix64(seed: 7), SplitMix64(seed: 7), SplitMix64(seed: 8))
    let a = try breakable.perturb(model, images: problem.images, labels: problem.labels, rng: &first)
    let b = try breakable.perturb(model, images: problem.images, labels: problem.labels, rng: &second)
    let c = try breakable.perturb(model, images: problem.images, labels: problem.labels, rng: &other)
    #expect(a == b)
    #expect(a != c)
    // Below every minimal norm nothing can break: the attack hands back the clean images.
    var rng = SplitMix64(seed: 9)
    let unbroken = try square(norm, epsilon: 0.5 * distances.min()!, queries: 50)
        .perturb(model, images: problem.images, labels: problem.labels, rng: &rng)
    #expect(unbroken == problem.images)
}
