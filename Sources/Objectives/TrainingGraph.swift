import Graph
import Models

/// The compiled training objective of one step: loss terms over clean/adversarial views at
/// Taylor orders 0–2, their weighted sum, and its gradient with respect to every parameter.
///
/// Construction, all graph → graph:
///   G0 = train-mode forward of the clean and adversarial batches (+ BN batch statistics),
///        and of the randomized model f_{w+u} for `noisy(·)` views
///   G1 = jvp(G0) along the noise u        (adds J·u of every output)      if a term needs order ≥ 1
///   G2 = jvp(G1) along the same u         (adds uᵀHu)                      if a term needs order 2
///   G3 = G2 + loss terms + weighted total
///   G4 = vjp(G3) of the total w.r.t. the parameters: reverse over forward over forward.
///
/// Inputs: `input/clean`, `input/adversarial` [N,C,H,W] (the latter only when a term uses it),
/// `label` [N,K] one-hot, every parameter by its PyTorch name, `noise/<name>` for each
/// noisy parameter (only when a term has order ≥ 1 or a noisy view), and `weight/<term>` scalars (so that a
/// schedule can change weights without recompiling).
public struct TrainingGraph {
    public var graph: Graph
    public var parameters: [ParameterInfo]
    public var buffers: [BufferInfo]
    public var terms: [LossTerm]
    /// Noisy parameters: those with a `noise/<name>` input.
    public var noiseParameters: [String]
    /// BN layers whose clean-pass batch statistics are outputs, with elements per channel.
    public var statistics: [(layer: String, elementsPerChannel: Int)]
    public var layout: OutputLayout

    /// Where each result sits in `graph.outputs`.
    public struct OutputLayout {
        public var total: Int
        public var terms: Range<Int>
        public var gradients: Range<Int>
        /// Pairs (mean, biased variance) per entry of `statistics`.
        public var statistics: Range<Int>
        public var views: [View: Int]
    }
}

/// `normalization`: train-mode BatchNorm as it is, or synchronised across data-parallel
/// ranks (`.trainAcrossRanks`, every pass of the graph).
public func buildTrainingGraph(model: any Model, inputShape: [Int], classes: Int, terms: [LossTerm],
                               noiseParameters selectNoise: (String) -> Bool = { _ in true },
                               normalization: NormalizationMode = .train) -> TrainingGraph {
    precondition(normalization != .eval, "the training graph runs BatchNorm in train mode")
    let views = Set(terms.flatMap(\.allViews))
    let taylorViews = views.filter { !$0.noisy }
    let noisyInputs = InputKind.allCases.filter { views.contains(.noisy($0)) }
    let inputsUsed = [InputKind.clean, .adversarial].filter { kind in views.contains { $0.input == kind } }
    let maxOrder = taylorViews.map(\.order).max() ?? 0

    // G0: forward passes. Outputs: logits per used input, then the BN statistics of the
    // first pass (the clean one when the loss uses clean inputs; Madry's uses only s'),
    // then, for soft-label terms, the penultimate features per used input, then the noisy
    // passes' logits. Their statistics (a pass in another scope) are not used: running
    // statistics follow the model at w.
    let builder = GraphBuilder()
    let scope = Scope(builder: builder, mode: normalization)
    var outputs = [Tensor]()
    for kind in inputsUsed {
        outputs.append(model.logits(builder.input("input/\(kind.rawValue)", shape: inputShape), scope))
    }
    let layersPerPass = scope.statistics.count / max(inputsUsed.count, 1)
    let statistics = Array(scope.statistics.prefix(layersPerPass))
    let forwardCount = outputs.count
    for s in statistics { outputs += [s.mean, s.variance] }
    let statisticsEnd = outputs.count
    // The soft-label terms also read each pass's penultimate features, carried through the
    // transforms as further outputs (their tangents are nodes the logits' tangents use anyway).
    let needsFeatures = terms.contains { $0.criterion.needsClassifierInputs }
    if needsFeatures {
        precondition(scope.classifierInputs.count == inputsUsed.count,
                     "model '\(model.name)' does not mark its final layer (linear(…, isClassifier: true)); "
                     + "the soft-label terms need its input")
        outputs += scope.classifierInputs
    }
    let parameters = scope.parameters
    let noisy = parameters.map(\.name).filter(selectNoise)
    let noisySet = Set(noisy)
    let noisyStart = outputs.count
    if !noisyInputs.isEmpty {
        // The same u as the Taylor terms' tangent (the step's fresh draw), added to w.
        let shapes = Dictionary(uniqueKeysWithValues: parameters.map { ($0.name, $0.shape) })
        let randomized = Scope(builder: builder, mode: normalization) { name, weight in
            noisySet.contains(name) ? weight + builder.input("noise/\(name)", shape: shapes[name]!) : weight
        }
        for kind in noisyInputs {
            outputs.append(model.logits(builder.input("input/\(kind.rawValue)", shape: inputShape), randomized))
        }
    }
    let primalCount = outputs.count
    var graph = builder.finish(outputs)

    // G1, G2: forward mode along u, same tangent inputs both times. A noisy pass reads the
    // input noise/p itself; its tangent along u is then u (through w) and none through u.
    let tangentNames = Dictionary(uniqueKeysWithValues: noisy.map { ($0, "noise/\($0)") })
    if maxOrder >= 1 { graph = jvp(graph, tangents: tangentNames) }
    if maxOrder >= 2 { graph = jvp(graph, tangents: tangentNames) }

    // Output index of a view in G2's outputs: order k of output i sits at i + (2^k − 1)·primalCount
    // (jvp appends tangents after primals; in G2 the order-1 stream appears twice and
    // hash-consing makes both copies one).
    let loss = GraphBuilder(graph)
    var viewIndex = [View: Int]()
    var viewTensor = [View: Tensor]()
    for (i, kind) in inputsUsed.enumerated() {
        for order in 0...maxOrder {
            let v = View(kind, order: order)
            let index = i + ((1 << order) - 1) * primalCount
            viewIndex[v] = index
            viewTensor[v] = loss.tensor(graph.outputs[index])
        }
    }
    for (j, kind) in noisyInputs.enumerated() {
        viewIndex[.noisy(kind)] = noisyStart + j
        viewTensor[.noisy(kind)] = loss.tensor(graph.outputs[noisyStart + j])
    }
    var features = [InputKind: Tensor]()
    if needsFeatures {
        for (i, kind) in inputsUsed.enumerated() { features[kind] = loss.tensor(graph.outputs[statisticsEnd + i]) }
    }
    let onehot = loss.input("label", shape: [inputShape[0], classes])
    let termValues = terms.map { $0.value(viewTensor, features: features, onehot: onehot) }
    var total = loss.constant(0, shape: [])
    for (term, value) in zip(terms, termValues) {
        total = total + loss.input("weight/\(term.name)", shape: []) * value
    }
    // G3 outputs: total, terms, views, statistics.
    let viewOrder = viewIndex.keys.sorted { ($0.noisy ? 1 : 0, $0.input.rawValue, $0.order) < ($1.noisy ? 1 : 0, $1.input.rawValue, $1.order) }
    let statOutputs = (forwardCount..<statisticsEnd).map { loss.tensor(graph.outputs[$0]) }
    let g3 = loss.finish([total] + termValues + viewOrder.map { viewTensor[$0]! } + statOutputs)

    // G4: reverse mode through everything above.
    let g4 = vjp(g3, of: 0, wrt: parameters.map(\.name))
    let t = terms.count, v = viewOrder.count, s = statOutputs.count
    let gradientStart = g3.outputs.count
    var layout = TrainingGraph.OutputLayout(
        total: 0, terms: 1..<(1 + t), gradients: gradientStart..<(gradientStart + parameters.count),
        statistics: (1 + t + v)..<(1 + t + v + s), views: [:])
    for (k, view) in viewOrder.enumerated() { layout.views[view] = 1 + t + k }
    return TrainingGraph(graph: g4, parameters: parameters, buffers: scope.buffers, terms: terms,
                         noiseParameters: maxOrder >= 1 || !noisyInputs.isEmpty ? noisy : [],
                         statistics: statistics.map { ($0.layer, $0.elementsPerChannel) }, layout: layout)
}
