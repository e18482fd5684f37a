import Attacks
import Graph
import Testing

// APGD on a linear classifier, where the rows a perturbation of norm ≤ ε can break are known
// in closed form. With two classes cross-entropy is monotone in the margin, so its maximizer
// in the ball crosses the boundary exactly when the boundary is within ε. With more classes
// CE can peak at a point that raises several wrong logits without crossing any boundary (a
// convex function has local maxima at several corners): APGD-CE on 10 classes misses rows
// whose nearest boundary is at 0.7ε, which is why AutoAttack adds the margin-based DLR
// losses; those are tested on 10 classes.

@Test("APGD breaks every linear-model point with minimal norm ≤ 0.8ε and none beyond 1.2ε (CE on 2 classes, DLR and targeted DLR on 10)",
      arguments: [(AttackLoss.crossEntropy, 2), (.dlr, 10), (.targetedDLR, 10)], Norm.allCases)
func apgdBreaksExactlyWithinEpsilon(setting: (loss: AttackLoss, classes: Int), norm: Norm) throws {
    let (loss, classes) = setting
    let problem = LinearProblem(classes: classes, batch: 32, seed: 31)
    let model = try problem.attackedModel()
    let distances = (0..<problem.batch).map { problem.minimalDistance(row: $0, norm: norm) }
    let epsilon = distances.sorted()[problem.batch / 2]
    let attack = APGD(name: "apgd", loss: loss, threat: ThreatModel(norm: norm, epsilon: epsilon, stepSize: 0),
                      targets: classes - 1)
    var rng = SplitMix64(seed: 4)
    let found = try attack.perturb(model, images: problem.images, labels: problem.labels, rng: &rng)
    var (inside, outside) = (0, 0)
    for row in 0..<problem.batch {
        let size = problem.perturbationNorm(found, row: row, norm: norm)
        #expect(size <= epsilon * (1 + 1e-5), "row \(row) left the ball: \(size) > \(epsilon)")
        let correct = problem.isCorrect(found, row: row)
        if distances[row] <= 0.8 * epsilon {
            inside += 1
            #expect(!correct, "row \(row): minimal norm \(distances[row] / epsilon)·ε, not broken")
        }
        if distances[row] >= 1.2 * epsilon {
            outside += 1
            #expect(correct, "row \(row): minimal norm \(distances[row] / epsilon)·ε, broken")
        }
    }
    #expect(inside > 0 && outside > 0)
}

/// Rows of the linear problem with some labels moved off the prediction, so the DLR margin
/// z_y − max_{j≠y} z_j is negative there too.
private func mixedLabels(_ problem: LinearProblem) -> [Int32] {
    (0..<problem.batch).map { row in row % 2 == 0 ? problem.labels[row] : Int32(problem.ranking(row)[row % problem.classes]) }
}

@Test("The DLR loss and its input gradient match the formula on known logits")
func dlrMatchesFormula() throws {
    let problem = LinearProblem(classes: 10, batch: 8, seed: 32)
    let model = try problem.attackedModel()
    let labels = mixedLabels(problem)
    let result = try model.lossAndGradient(.dlr, at: problem.images, labels: labels)
    let d = problem.imageSize
    for row in 0..<problem.batch {
        let z = problem.logits(problem.images, row: row)
        let y = Int(labels[row])
        let sorted = z.sorted(by: >)
        let other = z.indices.filter { $0 != y }.max { z[$0] < z[$1] }!
        let scale = sorted[0] - sorted[2] + 1e-12
        let expected = -(z[y] - z[other]) / scale
        #expect(abs(Double(result.loss[row]) - expected) <= 1e-4 * max(1, abs(expected)), "row \(row)")
        // ∂/∂x of −(z_y − z_m)/(z_π1 − z_π3) with z = W x + b.
        let (first, third) = (z.firstIndex(of: sorted[0])!, z.firstIndex(of: sorted[2])!)
        for j in 0..<d {
            let w = { (k: Int) in problem.weight[k * d + j] }
            let gradient = -((w(y) - w(other)) * scale - (z[y] - z[other]) * (w(first) - w(third))) / (scale * scale)
            #expect(abs(Double(result.gradient[row * d + j]) - gradient) <= 1e-3 * max(1, abs(gradient)), "row \(row), input \(j)")
        }
    }
}

@Test("The targeted DLR loss matches −(z_y − z_t)/(z_π1 − (z_π3 + z_π4)/2) on known logits")
func targetedDLRMatchesFormula() throws {
    let problem = LinearProblem(classes: 10, batch: 8, seed: 33)
    let model = try problem.attackedModel()
    let labels = mixedLabels(problem)
    let targets = (0..<problem.batch).map { row in Int32(problem.ranking(row).first { $0 != Int(labels[row]) && $0 % 3 == row % 3 }
        ?? problem.ranking(row).first { $0 != Int(labels[row]) }!) }
    let result = try model.lossAndGradient(.targetedDLR, at: problem.images, labels: labels, targetLabels: targets)
    for row in 0..<problem.batch {
        let z = problem.logits(problem.images, row: row)
        let sorted = z.sorted(by: >)
        let expected = -(z[Int(labels[row])] - z[Int(targets[row])]) / (sorted[0] - (sorted[2] + sorted[3]) / 2 + 1e-12)
        #expect(abs(Double(result.loss[row]) - expected) <= 1e-4 * max(1, abs(expected)), "row \(row)")
    }
}
