import Attacks
import Graph
import Testing

// FAB-T on a linear classifier, where the minimal perturbation to each boundary is known in
// closed form: margin over the dual norm of w_y − w_t.

private func fab(_ norm: Norm, epsilon: Double, restarts: Int = 1, targets: Int = 9) -> FABTargeted {
    FABTargeted(name: "fab-t", threat: ThreatModel(norm: norm, epsilon: epsilon, stepSize: 0), iterations: 100,
                restarts: restarts, targets: targets, alphaMax: 0.1, eta: 1.05, beta: 0.9)
}

@Test("FAB-T finds the minimal-norm adversarial to the targeted boundary on a linear classifier (within 5%)",
      arguments: Norm.allCases)
func fabFindsMinimalNorm(norm: Norm) throws {
    let problem = LinearProblem(classes: 10, batch: 16, seed: 11)
    let model = try problem.attackedModel()
    let largest = (0..<problem.batch).map { problem.distance(row: $0, to: problem.ranking($0)[1], norm: norm) }.max()!
    var rng = SplitMix64(seed: 1)
    let found = try fab(norm, epsilon: 10 * largest).perturb(model, images: problem.images, labels: problem.labels, rng: &rng)
    var ratios = [Double]()
    for row in 0..<problem.batch {
        // With ε this large the first target (the 2nd most likely class) already succeeds.
        let targeted = problem.distance(row: row, to: problem.ranking(row)[1], norm: norm)
        let size = problem.perturbationNorm(found, row: row, norm: norm)
        #expect(!problem.isCorrect(found, row: row), "row \(row) not broken at ε = 10× its targeted distance")
        #expect(size <= 1.05 * targeted, "row \(row): ‖δ‖ \(size) vs targeted minimum \(targeted)")
        // No attack can beat the nearest boundary of any class.
        #expect(size >= problem.minimalDistance(row: row, norm: norm) * (1 - 1e-4))
        ratios.append(size / targeted)
    }
    print("FAB-T \(norm): ‖δ‖ / targeted minimal norm: min \(ratios.min()!), max \(ratios.max()!)")
}

@Test("FAB-T's projection respects the box: minimal norms match the box-constrained closed form", arguments: Norm.allCases)
func fabMinimalNormInsideBox(norm: Norm) throws {
    // Points anywhere in [0, 1]: some minimal perturbations run into the box edges.
    let problem = LinearProblem(classes: 10, batch: 16, spread: 1, seed: 14)
    let model = try problem.attackedModel()
    let firstTarget = (0..<problem.batch).map { problem.boxedDistance(row: $0, to: problem.ranking($0)[1], norm: norm) }
    let boxBinds = (0..<problem.batch).filter {
        firstTarget[$0] > 1.01 * problem.distance(row: $0, to: problem.ranking($0)[1], norm: norm)
    }
    #expect(boxBinds.count >= 2, "the box binds for too few rows to test it")
    var rng = SplitMix64(seed: 6)
    let found = try fab(norm, epsilon: 10).perturb(model, images: problem.images, labels: problem.labels, rng: &rng)
    var ratios = [Double]()
    for row in 0..<problem.batch {
        let size = problem.perturbationNorm(found, row: row, norm: norm)
        let nearest = (0..<problem.classes).filter { $0 != Int(problem.labels[row]) }
            .map { problem.boxedDistance(row: row, to: $0, norm: norm) }.min()!
        #expect(size >= nearest * (1 - 1e-4), "row \(row): ‖δ‖ \(size) below the boxed minimum \(nearest)")
        #expect(found[(row * problem.imageSize)..<((row + 1) * problem.imageSize)].allSatisfy { $0 >= 0 && $0 <= 1 })
        guard firstTarget[row].isFinite else { continue }
        #expect(!problem.isCorrect(found, row: row))
        #expect(size <= 1.05 * firstTarget[row], "row \(row): ‖δ‖ \(size) vs boxed targeted minimum \(firstTarget[row])")
        if boxBinds.contains(row) { ratios.append(size / firstTarget[row]) }
    }
    print("FAB-T \(norm) where the box binds (\(ratios.count) rows): ‖δ‖ / boxed minimal norm: min \(ratios.min() ?? .nan), max \(ratios.max() ?? .nan)")
}

@Test("FAB-T breaks a point only when a perturbation within ε exists, and never returns one outside ε",
      arguments: Norm.allCases)
func fabRespectsEpsilon(norm: Norm) throws {
    let problem = LinearProblem(classes: 4, batch: 16, seed: 12)
    let model = try problem.attackedModel()
    let firstTarget = (0..<problem.batch).map { problem.distance(row: $0, to: problem.ranking($0)[1], norm: norm) }
    let epsilon = firstTarget.sorted()[problem.batch / 2]
    var rng = SplitMix64(seed: 2)
    let found = try fab(norm, epsilon: epsilon, targets: 3).perturb(model, images: problem.images, labels: problem.labels, rng: &rng)
    var (breakable, unbreakable) = (0, 0)
    for row in 0..<problem.batch {
        #expect(problem.perturbationNorm(found, row: row, norm: norm) <= epsilon * (1 + 1e-6))
        if problem.minimalDistance(row: row, norm: norm) > epsilon {
            unbreakable += 1
            #expect(problem.isCorrect(found, row: row), "row \(row) misclassified beyond its minimal norm")
            #expect(found[(row * problem.imageSize)..<((row + 1) * problem.imageSize)]
                    == problem.images[(row * problem.imageSize)..<((row + 1) * problem.imageSize)], "a failed row returns the clean image")
        }
        if firstTarget[row] < epsilon / 1.1 {
            breakable += 1
            #expect(!problem.isCorrect(found, row: row), "row \(row) not broken though its targeted distance is < ε/1.1")
        }
    }
    #expect(breakable > 0 && unbreakable > 0)
}

@Test("FAB-T and its restarts are deterministic in the seed", arguments: Norm.allCases)
func fabIsDeterministic(norm: Norm) throws {
    let problem = LinearProblem(classes: 4, batch: 8, seed: 13)
    let model = try problem.attackedModel()
    let epsilon = (0..<problem.batch).map { problem.minimalDistance(row: $0, norm: norm) }.sorted()[4]
    let attack = fab(norm, epsilon: epsilon, restarts: 2, targets: 3)
    var (first, second) = (SplitMix64(seed: 5), SplitMix64(seed: 5))
    let a = try attack.perturb(model, images: problem.images, labels: problem.labels, rng: &first)
    let b = try attack.perturb(model, images: problem.images, labels: problem.labels, rng: &second)
    #expect(a == b)
    #expect(a != problem.images)
}
