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
/// would be meaningless, so such directions are redrawn. The noise scale and the
/// clean/adversarial gap are large on purpose: the Taylor terms of a well-trained network
/// at σ = 0.01 are so small that difference quotients would measure rounding, not slope.
public func checkGradients(model: any Model, inputShape: [Int], classes: Int, terms: [LossTerm],
                           noiseParameters: (String) -> Bool = { _ in true },
                           noiseScale: Double = 0.5, directions: Int = 3, step h: Double = 1e-7,
                           seed: UInt64 = 1) throws -> [GradientCheckResult] {
    let training = buildTrainingGraph(model: model, inputShape: inputShape, classes: classes, terms: terms,
                                      noiseParameters: noiseParameters)
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
    for term in terms { feed["weight/\(term.name)"] = DTensor(repeating: 1, shape: []) }

    // Stop-gradient nodes are held at their values at w in every probe: their derivative is
    // zero by definition, so the function whose gradient the graph computes is the loss with
    // them constant. For the soft-label terms this is what makes their targets constants, as
    // in the authors' code.
    let (probed, frozen) = freezingStopGradients(training.graph)
    for (name, value) in zip(frozen.names, try evaluateReference(frozen.values, inputs: feed)) { feed[name] = value }

    // Only inputs the graph declares are fed.
    let declared = Set(training.graph.inputs.map(\.name) + probed.inputs.map(\.name))
    func run(_ graph: Graph, _ f: [String: DTensor]) throws -> [DTensor] {
        try evaluateReference(graph, inputs: f.filter { declared.contains($0.key) })
    }
    // Probes need the term values and views only: the same nodes without the gradients.
    let layout = training.layout
    let viewIndices = layout.views.values.sorted()
    let values = Graph(nodes: probed.nodes,
                       outputs: layout.terms.map { training.graph.outputs[$0] } + viewIndices.map { training.graph.outputs[$0] })
    let base = try run(values, feed)

    // Directions whose probes stay on the base point's linear piece, with the term values there.
    var probes = [(direction: [String: DTensor], up: [DTensor], down: [DTensor])]()
    var tried = 0
    while probes.count < directions && tried < directions * 10 {
        tried += 1
        var plus = feed, minus = feed, direction = [String: DTensor]()
        for p in training.parameters {
            let d = DTensor.normal(p.shape, &rng)
            direction[p.name] = d
            plus[p.name] = feed[p.name]!.adding(d, scaledBy: h)
            minus[p.name] = feed[p.name]!.adding(d, scaledBy: -h)
        }
        let up = try run(values, plus), down = try run(values, minus)
        if samePiece(up, down, base, views: terms.count..<(terms.count + viewIndices.count)) {
            probes.append((direction, up, down))
        }
    }

    var results = [GradientCheckResult]()
    for (k, term) in terms.enumerated() {
        // The compiled gradient of this term alone: its weight 1, the others 0.
        var only = feed
        for other in terms { only["weight/\(other.name)"] = DTensor(repeating: other == term ? 1 : 0, shape: []) }
        let gradients = try run(training.graph, only)
        var worst = 0.0
        for probe in probes {
            var analytic = 0.0
            for (i, p) in training.parameters.enumerated() {
                analytic += gradients[layout.gradients.lowerBound + i].dot(probe.direction[p.name]!)
            }
            let numeric = (probe.up[k].data[0] - probe.down[k].data[0]) / (2 * h)
            worst = max(worst, abs(numeric - analytic) / max(abs(numeric), abs(analytic), 1e-8))
        }
        results.append(GradientCheckResult(term: term.name, maxRelativeError: probes.isEmpty ? .nan : worst,
                                           directions: probes.count))
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
/// a view whose midpoint of the two probes disagrees with its value at w.
private func samePiece(_ up: [DTensor], _ down: [DTensor], _ base: [DTensor], views: Range<Int>) -> Bool {
    for index in views {
        let mid = DTensor(shape: base[index].shape, data: zip(up[index].data, down[index].data).map { ($0 + $1) / 2 })
        if relativeError(mid, base[index]) > 1e-4 { return false }
    }
    return true
}
