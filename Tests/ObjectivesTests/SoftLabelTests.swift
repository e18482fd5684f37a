import Foundation
import Graph
import Models
import Objectives
import Testing

// The authors' soft-label approximation (SoftLabel.swift) against independent computations
// in Double: the statistic against reverse mode on the classifier weight, reg_gap against
// hand-computed rows and against the code's C×C matrix, the terms' gradients against
// finite differences.

private let model = SmallCNN(classes: 4, widths: [5, 6])
private let inputShape = [3, 3, 8, 8]
private let classes = 4
private let classifierWeight = "fc.weight"

/// Parameters, clean and adversarial batches and labels, drawn once from a seed.
private func randomFeed(seed: UInt64) -> [String: DTensor] {
    var rng = SplitMix64(seed: seed)
    var feed = [String: DTensor]()
    for p in model.parameters(inputShape: inputShape) { feed[p.name] = DTensor.normal(p.shape, scale: 0.5, &rng) }
    let clean = DTensor.uniform(inputShape, in: 0...1, &rng)
    feed["input/clean"] = clean
    feed["input/adversarial"] = clean.adding(DTensor.uniform(inputShape, in: -0.3...0.3, &rng), scaledBy: 1)
    var onehot = DTensor(repeating: 0, shape: [inputShape[0], classes])
    for (n, label) in [2, 0, 3].enumerated() { onehot.data[n * classes + label] = 1 }
    feed["label"] = onehot
    return feed
}

/// One train-mode pass of `input`: logits, the statistic from the features (closed form), and
/// ∂CE/∂W of the classifier weight by reverse mode, computed independently of the closed form.
private func statisticAndWeightGradient(_ feed: [String: DTensor], input: String) throws
    -> (logits: DTensor, statistic: DTensor, weightGradient: DTensor) {
    let builder = GraphBuilder()
    let scope = Scope(builder: builder, mode: .train)
    let logits = model.logits(builder.input(input, shape: inputShape), scope)
    let onehot = builder.input("label", shape: [inputShape[0], classes])
    let features = try #require(scope.classifierInputs.first)
    let statistic = classifierGradientRowSums(logits: logits, features: features, onehot: onehot)
    let forward = builder.finish([crossEntropy(logits, onehot), logits, statistic])
    let values = try evaluateReference(vjp(forward, of: 0, wrt: [classifierWeight]), inputs: feed)
    return (values[1], values[2], values[3])
}

@Test("the statistic equals Σ_j of the reverse-mode ∂CE/∂W_cj of the classifier weight",
      arguments: ["input/clean", "input/adversarial"])
func statisticIsClassifierGradientRowSum(input: String) throws {
    let (_, statistic, gradient) = try statisticAndWeightGradient(randomFeed(seed: 5), input: input)
    let features = gradient.shape[1]
    let rowSums = (0..<classes).map { c in (0..<features).reduce(0) { $0 + gradient.data[c * features + $1] } }
    #expect(statistic.shape == [1, classes])
    #expect(relativeError(statistic, DTensor(shape: [1, classes], data: rowSums)) < 1e-12)
}

/// Rows `labels` of `softLabelTargets(v)` evaluated on the reference backend.
private func targets(_ v: [Double], labels: [Int], mixing: Double) throws -> [[Double]] {
    let builder = GraphBuilder()
    let gap = builder.input("v", shape: [1, v.count])
    let onehot = builder.input("label", shape: [labels.count, v.count])
    let graph = builder.finish([softLabelTargets(gap, onehot: onehot, mixing: mixing)])
    var labelData = [Double](repeating: 0, count: labels.count * v.count)
    for (n, y) in labels.enumerated() { labelData[n * v.count + y] = 1 }
    let out = try evaluateReference(graph, inputs: ["v": DTensor(shape: [1, v.count], data: v),
                                                    "label": DTensor(shape: [labels.count, v.count], data: labelData)])[0]
    return labels.indices.map { Array(out.data[($0 * v.count)..<(($0 + 1) * v.count)]) }
}

private func expectRows(_ got: [[Double]], _ expected: [[Double]], tolerance: Double = 1e-10) {
    for (g, e) in zip(got, expected) {
        #expect(zip(g, e).allSatisfy { abs($0 - $1) < tolerance }, "got \(g), expected \(e)")
    }
}

@Test("reg_gap rows for C = 4 match the hand computation")
func regGapByHand() throws {
    // v = [3, 1, 4, 2] → shifted [2, 0, 3, 1]; cc = 0.8 spread over the classes ≠ y in
    // proportion to the shifted entries, 1 − cc = 0.2 on y.
    let rows = try targets([3, 1, 4, 2], labels: [0, 2, 1], mixing: 0.8)
    expectRows(rows, [
        [0.2, 0, 0.8 * 3 / 4, 0.8 * 1 / 4],
        [0.8 * 2 / 3, 0, 0.2, 0.8 * 1 / 3],
        [0.8 * 2 / 6, 0.2, 0.8 * 3 / 6, 0.8 * 1 / 6],
    ])
}

@Test("reg_gap is guarded where the code divides 0 by 0: the off-diagonal mass spreads uniformly")
func regGapDegenerate() throws {
    let uniform = [0.2, 0.8 / 3, 0.8 / 3, 0.8 / 3]
    // A constant vector (the code's NaN for every row).
    expectRows(try targets([5, 5, 5, 5], labels: [0], mixing: 0.8), [uniform])
    // All shifted mass on the label's own class (the code's NaN for that row only).
    expectRows(try targets([0, 0, 0, 1], labels: [3, 0], mixing: 0.8),
               [[0.8 / 3, 0.8 / 3, 0.8 / 3, 0.2], [0.2, 0, 0, 0.8]])
}

/// The code's `reg_gap` (a C×C matrix; no guard) and its KLDivLoss(reduction sum) / B.
private func authorsRegGap(_ v: [Double], mixing cc: Double) -> [[Double]] {
    let shifted = v.map { $0 - v.min()! }
    let normalized = shifted.map { $0 / shifted.reduce(0, +) }
    return v.indices.map { i in
        var row = normalized
        row[i] = 0
        let mass = row.reduce(0, +)
        row = row.map { cc * $0 / mass }
        row[i] = 1 - cc
        return row
    }
}

private func authorsKL(targets rows: [[Double]], labels: [Int], logits: DTensor) -> Double {
    var total = 0.0
    for (n, y) in labels.enumerated() {
        let z = Array(logits.data[(n * classes)..<((n + 1) * classes)])
        let logNormalizer = log(z.map { exp($0 - z.max()!) }.reduce(0, +)) + z.max()!
        for c in 0..<classes where rows[y][c] > 0 {
            total += rows[y][c] * (log(rows[y][c]) - (z[c] - logNormalizer))
        }
    }
    return total / Double(labels.count)
}

@Test("T1 and T2 in the training graph equal the code's formulas on independently computed statistics",
      arguments: [true, false])
func termsMatchAuthorsFormulas(repeatAdvMinusNat: Bool) throws {
    let feed = randomFeed(seed: 9)
    let labels = [2, 0, 3]
    let (cleanLogits, gClean, _) = try statisticAndWeightGradient(feed, input: "input/clean")
    let (advLogits, gAdv, _) = try statisticAndWeightGradient(feed, input: "input/adversarial")
    let cc = authorsMixing(classes: classes)
    let difference = { (a: [Double], b: [Double]) in zip(a, b).map { $0 - $1 } }
    let t1Clean = gClean.data.map(abs), t1Adv = gAdv.data.map(abs)
    let t2Clean = gClean.data.map { $0 * $0 }, t2Adv = gAdv.data.map { $0 * $0 }
    let expectedT1 = 0.5 * (authorsKL(targets: authorsRegGap(difference(t1Clean, t1Adv), mixing: cc), labels: labels, logits: advLogits)
        + authorsKL(targets: authorsRegGap(difference(t1Adv, t1Clean), mixing: cc), labels: labels, logits: cleanLogits))
    let cleanGap = repeatAdvMinusNat ? difference(t2Adv, t2Clean) : difference(t2Clean, t2Adv)
    let expectedT2 = 0.5 * (authorsKL(targets: authorsRegGap(difference(t2Adv, t2Clean), mixing: cc), labels: labels, logits: advLogits)
        + authorsKL(targets: authorsRegGap(cleanGap, mixing: cc), labels: labels, logits: cleanLogits))

    let terms = [LossTerm.softLabelT1(weight: 1), .softLabelT2(repeatAdvMinusNat: repeatAdvMinusNat, weight: 1)]
    let training = buildTrainingGraph(model: model, inputShape: inputShape, classes: classes, terms: terms)
    #expect(training.noiseParameters.isEmpty)
    var inputs = feed
    for term in terms { inputs["weight/\(term.name)"] = DTensor(repeating: 1, shape: []) }
    let values = try evaluateReference(training.graph, inputs: inputs)
    let t1 = values[training.layout.terms.lowerBound].data[0]
    let t2 = values[training.layout.terms.lowerBound + 1].data[0]
    #expect(abs(t1 - expectedT1) < 1e-9 * max(1, abs(expectedT1)), "T1 \(t1), expected \(expectedT1)")
    #expect(abs(t2 - expectedT2) < 1e-9 * max(1, abs(expectedT2)), "T2 \(t2), expected \(expectedT2)")
    #expect(t1 > 0 && t2 > 0)
    let gradients = values[training.layout.gradients].flatMap(\.data)
    #expect(gradients.allSatisfy(\.isFinite) && gradients.contains { $0 != 0 })
}

@Test("the gradients of soft-label T1 and T2 pass the gradient check (targets held constant)")
func softLabelGradientsCheck() throws {
    let terms = [LossTerm.softLabelT1(weight: 1), .softLabelT2(weight: 1), .softLabelT2(name: "t2sym", repeatAdvMinusNat: false, weight: 1)]
    let results = try checkGradients(model: SmallCNN(classes: 5, widths: [6, 8]), inputShape: [4, 3, 8, 8],
                                     classes: 5, terms: terms, directions: 2, seed: 11)
    #expect(results.count == terms.count)
    for r in results {
        #expect(r.directions == 2, "\(r.term): kinks on every probe")
        #expect(r.maxRelativeError < 1e-6, "\(r.term): relative error \(r.maxRelativeError)")
    }
}
