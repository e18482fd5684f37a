import Foundation
import Graph
import Models

/// One loss term's gradient check: the compiled gradient's directional derivative
/// ⟨∇L, d⟩ against the central difference (L(w + h·d) − L(w − h·d)) / 2h in Double,
/// maximized over several random directions d.
public struct GradientCheckResult: Sendable {
    public var term: String
    public var maxRelativeError: Double
    public var directions: Int
}

/// Checks the parameter gradient of each term separately on the reference backend.
/// The step is tiny (1e-7) because a ReLU network's J·u and uᵀHu jump where a
/// pre-activation crosses zero; a direction whose ±h probes change the activation pattern
/// would be meaningless, so such directions are redrawn.
public func checkGradients(model: any Model, inputShape: [Int], classes: Int, terms: [LossTerm],
                           noiseScale: Double = 0.5, directions: Int = 3, step h: Double = 1e-7,
                           seed: UInt64 = 1) throws -> [GradientCheckResult] {
    let training = buildTrainingGraph(model: model, inputShape: inputShape, classes: classes, terms: terms)
    var rng = SplitMix64(seed: seed)
    var feed = [String: DTensor]()
    for p in training.parameters {
        feed[p.name] = DTensor.normal(p.shape, scale: 0.5, &rng)
        if training.noiseParameters.contains(p.name) {
            feed["noise/\(p.name)"] = DTensor.normal(p.shape, scale: noiseScale, &rng)
        }
    }
    let clean = DTensor.uniform(inputShape, in: 0...1, &rng)
    feed["input/clean"] = clean
    feed["input/adversarial"] = clean.adding(DTensor.uniform(inputShape, in: -0.5...0.5, &rng), scaledBy: 1)
    let n = inputShape[0]
    var onehot = DTensor(repeating: 0, shape: [n, classes])
    for i in 0..<n { onehot.data[i * classes + Int(rng.next() % UInt64(classes))] = 1 }
    feed["label"] = onehot

    // Stop-gradient nodes are held at their values at w in every probe: their derivative is
    // zero by definition, so the function whose gradient the graph computes is the loss with
    // them constant. For the soft-label terms this is what makes their targets constants, as
    // in the authors' code.
    let (probed, frozen) = freezingStopGradients(training.graph)
    for (name, value) in zip(frozen.names, try evaluateReference(frozen.values, inputs: feed)) { feed[name] = value }

    // Only inputs the graph declares are fed.
    let declared = Set(probed.inputs.map(\.name))
    func run(_ f: [String: DTensor]) throws -> [DTensor] {
        try evaluateReference(probed, inputs: f.filter { declared.contains($0.key) })
    }

    var results = [GradientCheckResult]()
    for (k, term) in terms.enumerated() {
        for other in terms { feed["weight/\(other.name)"] = DTensor(repeating: other == term ? 1 : 0, shape: []) }
        let base = try run(feed)
        var worst = 0.0
        var tried = 0, used = 0
        while used < directions && tried < directions * 10 {
            tried += 1
            var plus = feed, minus = feed
            var analytic = 0.0
            for (i, p) in training.parameters.enumerated() {
                let d = DTensor.normal(p.shape, &rng)
                plus[p.name] = feed[p.name]!.adding(d, scaledBy: h)
                minus[p.name] = feed[p.name]!.adding(d, scaledBy: -h)
                analytic += base[training.layout.gradients.lowerBound + i].dot(d)
            }
            let up = try run(plus), down = try run(minus)
            guard samePattern(up, down, base, training) else { continue }
            used += 1
            let termIndex = training.layout.terms.lowerBound + k
            let numeric = (up[termIndex].data[0] - down[termIndex].data[0]) / (2 * h)
            let error = abs(numeric - analytic) / max(abs(numeric), abs(analytic), 1e-8)
            worst = max(worst, error)
        }
        results.append(GradientCheckResult(term: term.name, maxRelativeError: used == 0 ? .nan : worst, directions: used))
    }
    return results
}

/// The graph with each stop-gradient node replaced by an input `frozen/<node>`, and a graph
/// computing those nodes' values (to feed them) with the names in the same order.
/// A stop-gradient of a max is log-softmax's shift, which the result does not depend on;
/// it stays live, so the probes of terms without other stop-gradients are unchanged (the
/// differences of the CE/KL checks sit close to their tolerance and move with rounding).
private func freezingStopGradients(_ graph: Graph) -> (Graph, frozen: (names: [String], values: Graph)) {
    var nodes = graph.nodes
    var names = [String](), indices = [Int]()
    for (i, node) in graph.nodes.enumerated() where node.op == .stopGradient {
        if case .max = graph.nodes[node.inputs[0]].op { continue }
        names.append("frozen/\(i)")
        indices.append(i)
        nodes[i] = Node(op: .input("frozen/\(i)"), inputs: [], shape: node.shape)
    }
    return (Graph(nodes: nodes, outputs: graph.outputs), (names, Graph(nodes: graph.nodes, outputs: indices)))
}

/// Whether the probes at w ± h·d stayed on the same linear piece: a kink crossing shows as
/// a first- or second-order view whose central difference disagrees wildly with its
/// value at w. Checked on the views the graph outputs.
private func samePattern(_ up: [DTensor], _ down: [DTensor], _ base: [DTensor], _ training: TrainingGraph) -> Bool {
    for (_, index) in training.layout.views {
        let mid = DTensor(shape: base[index].shape, data: zip(up[index].data, down[index].data).map { ($0 + $1) / 2 })
        if relativeError(mid, base[index]) > 1e-4 { return false }
    }
    return true
}
