import Graph
import Models
import Objectives
import Testing

/// End to end on the small CNN (train-mode and eval-mode BatchNorm): the forward-mode
/// Taylor terms against finite differences of the forward pass along u, and the
/// gradients of all four loss terms against finite differences of the loss.
@Test("small CNN: J·u and uᵀHu match finite differences of the logits along u",
      arguments: [NormalizationMode.train, .eval])
func taylorTermsMatchFiniteDifferences(mode: NormalizationMode) throws {
    let model = SmallCNN(classes: 5, widths: [6, 8])
    let forward = model.forwardGraph(inputShape: [3, 3, 8, 8], mode: mode)
    let tangents = Dictionary(uniqueKeysWithValues: forward.parameters.map { ($0.name, "noise/\($0.name)") })
    let second = jvp(jvp(forward.graph, tangents: tangents), tangents: tangents)
    // Outputs of jvp∘jvp: f, J·u, J·u (the same node after hash-consing), uᵀHu.
    #expect(second.outputs[1] == second.outputs[2])

    var rng = SplitMix64(seed: 3)
    var feed = ["input": DTensor.uniform([3, 3, 8, 8], in: 0...1, &rng)]
    for p in forward.parameters {
        feed[p.name] = DTensor.normal(p.shape, scale: 0.5, &rng)
        feed["noise/\(p.name)"] = DTensor.normal(p.shape, scale: 0.5, &rng)
    }
    for b in forward.buffers { feed[b.name] = b.name.hasSuffix("var") ? DTensor.uniform(b.shape, in: 0.5...2, &rng) : DTensor.normal(b.shape, &rng) }
    let values = try evaluateReference(second, inputs: feed)

    let h = 1e-7
    func along(_ s: Double, _ g: Graph, output: Int) throws -> DTensor {
        var moved = feed
        for p in forward.parameters { moved[p.name] = feed[p.name]!.adding(feed["noise/\(p.name)"]!, scaledBy: s) }
        return try evaluateReference(g, inputs: moved)[output]
    }
    func difference(_ a: DTensor, _ b: DTensor) -> DTensor {
        DTensor(shape: a.shape, data: zip(a.data, b.data).map { ($0 - $1) / (2 * h) })
    }
    let ju = difference(try along(h, forward.graph, output: 0), try along(-h, forward.graph, output: 0))
    #expect(relativeError(values[1], ju) < 1e-6)
    let first = jvp(forward.graph, tangents: tangents)
    let uhu = difference(try along(h, first, output: 1), try along(-h, first, output: 1))
    #expect(relativeError(values[3], uhu) < 1e-6)
    // A ReLU network is piecewise multilinear in its weights, yet uᵀHu is not zero.
    #expect(values[3].norm > 1e-3 * values[1].norm)
}

@Test("small CNN: gradients of CE, TRADES KL, first- and second-order Taylor KL match finite differences")
func lossGradientsMatchFiniteDifferences() throws {
    let terms = [
        LossTerm(name: "ce", criterion: .crossEntropy, views: [View(.clean)], weight: 1),
        LossTerm(name: "kl", criterion: .kl, views: [View(.clean), View(.adversarial)], weight: 1),
        LossTerm(name: "t1", criterion: .kl, views: [View(.clean, order: 1), View(.adversarial, order: 1)], weight: 1),
        LossTerm(name: "t2", criterion: .kl, views: [View(.clean, order: 2), View(.adversarial, order: 2)], weight: 1),
        LossTerm(name: "sym", criterion: .symmetricKL, views: [View(.clean, order: 1), View(.adversarial, order: 1)], weight: 1),
        LossTerm(name: "mse2", criterion: .squaredError, views: [View(.adversarial, order: 2)], weight: 1),
        LossTerm(name: "cw", criterion: .carliniWagner(kappa: 5), views: [View(.adversarial)], weight: 1),
    ]
    let results = try checkGradients(model: SmallCNN(classes: 5, widths: [6, 8]), inputShape: [4, 3, 8, 8],
                                     classes: 5, terms: terms, directions: 2, seed: 11)
    #expect(results.count == terms.count)
    for r in results {
        #expect(r.directions == 2, "\(r.term): kinks on every probe")
        #expect(r.maxRelativeError < 1e-6, "\(r.term): relative error \(r.maxRelativeError)")
    }
}
