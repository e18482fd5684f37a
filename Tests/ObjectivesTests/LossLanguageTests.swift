import Foundation
import Graph
import Models
import Objectives
import Testing

// The pieces of the loss language that MART and "plain weight noise" need: per-example
// weights reading view statistics, the boosted cross-entropy, and the randomized model's
// views f_{w+u}(s). Values against independent Double computations from the views' logits,
// gradients against finite differences like every other term.

private let model = SmallCNN(classes: 5, widths: [6, 8])
private let inputShape = [4, 3, 8, 8]
private let classes = 5
private let labels = [1, 4, 0, 2]

private let mart = [
    LossTerm(name: "boosted", criterion: .boostedCrossEntropy, views: [View(.adversarial)], weight: 1),
    LossTerm(name: "weighted_kl", criterion: .kl, views: [View(.clean), View(.adversarial)], weight: 1,
             exampleWeight: .binary(.subtract, .number(1), .statistic(.trueClassProbability, View(.clean)))),
]
private let randomized = [
    LossTerm(name: "noisy_ce", criterion: .crossEntropy, views: [.noisy(.adversarial)], weight: 1),
    LossTerm(name: "noisy_kl", criterion: .kl, views: [View(.clean), .noisy(.clean)], weight: 1,
             exampleWeight: .statistic(.margin, .noisy(.clean))),
]

/// Parameters, noise, inputs and labels drawn from a seed, for every input `training` declares.
private func feed(for training: TrainingGraph, seed: UInt64) -> [String: DTensor] {
    var rng = SplitMix64(seed: seed)
    var feed = [String: DTensor]()
    for p in training.parameters {
        feed[p.name] = DTensor.normal(p.shape, scale: 0.5, &rng)
        feed["noise/\(p.name)"] = DTensor.normal(p.shape, scale: 0.1, &rng)
    }
    let clean = DTensor.uniform(inputShape, in: 0...1, &rng)
    feed["input/clean"] = clean
    feed["input/adversarial"] = clean.adding(DTensor.uniform(inputShape, in: -0.3...0.3, &rng), scaledBy: 1)
    var onehot = DTensor(repeating: 0, shape: [inputShape[0], classes])
    for (n, label) in labels.enumerated() { onehot.data[n * classes + label] = 1 }
    feed["label"] = onehot
    for term in training.terms { feed["weight/\(term.name)"] = DTensor(repeating: 1, shape: []) }
    let declared = Set(training.graph.inputs.map(\.name))
    return feed.filter { declared.contains($0.key) }
}

/// Row n of logits [N, K] as probabilities, in Double.
private func softmaxRow(_ logits: DTensor, _ n: Int) -> [Double] {
    let row = Array(logits.data[(n * classes)..<((n + 1) * classes)])
    let top = row.max()!
    let e = row.map { exp($0 - top) }
    let total = e.reduce(0, +)
    return e.map { $0 / total }
}

private func kl(_ p: [Double], _ q: [Double]) -> Double {
    zip(p, q).reduce(0) { $0 + $1.0 * (log($1.0) - log($1.1)) }
}

@Test("MART's terms equal their definition computed from the views' logits")
func martValues() throws {
    let training = buildTrainingGraph(model: model, inputShape: inputShape, classes: classes, terms: mart)
    #expect(training.noiseParameters.isEmpty, "MART uses no weight noise")
    let values = try evaluateReference(training.graph, inputs: feed(for: training, seed: 3))
    let clean = values[training.layout.views[View(.clean)]!], adversarial = values[training.layout.views[View(.adversarial)]!]
    var boosted = 0.0, weightedKL = 0.0
    for (n, y) in labels.enumerated() {
        let p = softmaxRow(clean, n), q = softmaxRow(adversarial, n)
        let runnerUp = q.indices.filter { $0 != y }.map { q[$0] }.max()!
        boosted += -log(q[y]) - log(1.0001 + 1e-12 - runnerUp)
        weightedKL += (1 - p[y]) * kl(p, q)
    }
    let n = Double(labels.count)
    let terms = training.layout.terms.map { values[$0].data[0] }
    #expect(abs(terms[0] - boosted / n) < 1e-12 * max(1, boosted / n))
    #expect(abs(terms[1] - weightedKL / n) < 1e-12)
    #expect(weightedKL > 0, "the weighted KL must not vanish on this draw")
}

@Test("noisy(·) is the model evaluated at w + u, with the step's noise")
func noisyViewIsTheModelAtPerturbedWeights() throws {
    let training = buildTrainingGraph(model: model, inputShape: inputShape, classes: classes, terms: randomized)
    #expect(training.noiseParameters == training.parameters.map(\.name))
    let inputs = feed(for: training, seed: 4)
    let values = try evaluateReference(training.graph, inputs: inputs)

    // Independently: an ordinary forward pass fed w + u.
    let builder = GraphBuilder()
    let scope = Scope(builder: builder, mode: .train)
    let logits = model.logits(builder.input("x", shape: inputShape), scope)
    let forward = builder.finish([logits])
    for kind in [InputKind.clean, .adversarial] {
        var shifted = ["x": inputs["input/\(kind.rawValue)"]!]
        for p in training.parameters { shifted[p.name] = inputs[p.name]!.adding(inputs["noise/\(p.name)"]!, scaledBy: 1) }
        let expected = try evaluateReference(forward, inputs: shifted)[0]
        let atW = values[training.layout.views[View(kind)]!]
        #expect(relativeError(values[training.layout.views[.noisy(kind)]!], expected) < 1e-12)
        #expect(relativeError(atW, expected) > 1e-3, "u must move the logits for this test to mean anything")
    }
}

@Test("gradients of boosted CE, per-example weighted KL and the noisy views match finite differences")
func lossLanguageGradientsCheck() throws {
    // With a Taylor term in the same graph: the noisy pass and the tangents share u.
    let taylor = LossTerm(name: "t1", criterion: .kl, views: [View(.clean, order: 1), View(.adversarial, order: 1)], weight: 1)
    let terms = mart + randomized + [taylor]
    let results = try checkGradients(model: model, inputShape: inputShape, classes: classes, terms: terms,
                                     directions: 2, seed: 11)
    #expect(results.count == terms.count)
    for r in results {
        #expect(r.directions == 2, "\(r.term): kinks on every probe")
        #expect(r.maxRelativeError < 1e-6, "\(r.term): relative error \(r.maxRelativeError)")
    }
}

@Test("a per-example weight of 1 leaves a term unchanged")
func unitExampleWeightIsTheUnweightedTerm() throws {
    let plain = LossTerm(name: "kl", criterion: .kl, views: [View(.clean), View(.adversarial)], weight: 1)
    var unit = plain
    unit.name = "kl_unit"
    unit.exampleWeight = .binary(.divide, .number(2), .number(2))
    let training = buildTrainingGraph(model: model, inputShape: inputShape, classes: classes, terms: [plain, unit])
    let values = try evaluateReference(training.graph, inputs: feed(for: training, seed: 5))
    let terms = training.layout.terms.map { values[$0].data[0] }
    #expect(terms[0] > 0 && abs(terms[0] - terms[1]) < 1e-15)
}
