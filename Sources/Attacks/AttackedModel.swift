import Executor
import Graph
import Models
import Objectives

/// A model under attack at one batch shape: its graphs compiled once (the logits, and per
/// loss the loss with its input gradient, and per PGD step the fused projected step), the
/// weights written into each once. Attacks drive these graphs from host-side loops; a batch
/// only writes images and labels.
///
/// A randomized model (weight noise at evaluation) redraws w + u before every pass, so
/// each forward pass sees a new sample, as a randomized defense would at test time.
public final class AttackedModel {
    public let model: any Model
    /// [N, C, H, W]: N is the batch every graph is compiled for.
    public let inputShape: [Int]
    public let classes: Int
    public let mode: NormalizationMode
    let compiler: GraphCompiler
    private var weights: [String: [Float]] = [:]
    /// The model's parameters and BN buffers: the graph inputs `updateWeights` hands out.
    let weightNames: Set<String>
    public let logitsGraph: any CompiledGraph
    private var lossGraphs: [AttackLoss: any CompiledGraph] = [:]
    private var stepGraphs: [StepKey: any CompiledGraph] = [:]
    /// Passes (forward or forward + backward) run since creation: what Square counts as queries.
    public private(set) var forwardPasses = 0
    public private(set) var gradientPasses = 0
    public var randomization: Randomization?

    /// Weight noise at test time: u ~ N(0, σ²) on the named parameters, fresh every pass.
    public struct Randomization {
        public var sigma: Double
        public var parameters: [String]
        public var rng: SplitMix64
        public init(sigma: Double, parameters: [String], rng: SplitMix64) {
            self.sigma = sigma
            self.parameters = parameters
            self.rng = rng
        }
    }

    struct StepKey: Hashable { var loss: AttackLoss; var threat: ThreatModel }

    public var batch: Int { inputShape[0] }
    /// Values per image (C·H·W).
    public var imageSize: Int { inputShape.dropFirst().reduce(1, *) }

    public init(model: any Model, inputShape: [Int], classes: Int, mode: NormalizationMode = .eval,
                compiler: @escaping GraphCompiler) throws {
        self.model = model
        self.inputShape = inputShape
        self.classes = classes
        self.mode = mode
        self.compiler = compiler
        let forward = model.forwardGraph(inputShape: inputShape, mode: mode)
        weightNames = Set(forward.parameters.map(\.name) + forward.buffers.map(\.name))
        logitsGraph = try compiler(forward.graph)
    }

    /// Parameters and BN buffers by name; kept for graphs compiled later.
    public func load(weights: [String: [Float]]) throws {
        self.weights = weights
        for graph in allGraphs { try write(weights, into: graph) }
    }

    /// Writes into every compiled graph's parameter inputs in place (the training attack adds
    /// its noise this way each step without a dictionary of copies).
    public func updateWeights(_ body: (String, UnsafeMutableBufferPointer<Float>) throws -> Void) throws {
        for graph in allGraphs {
            for name in graph.inputNames where weightNames.contains(name) { try body(name, try graph.input(name)) }
        }
    }

    var allGraphs: [any CompiledGraph] { [logitsGraph] + Array(lossGraphs.values) + Array(stepGraphs.values) }

    private func write(_ weights: [String: [Float]], into graph: any CompiledGraph) throws {
        for name in graph.inputNames { if let values = weights[name] { try graph.setInput(name, values) } }
    }

    /// Draws a fresh w + u into `graph` when the model is randomized.
    private func resample(_ graph: any CompiledGraph) throws {
        guard var r = randomization else { return }
        for name in r.parameters where graph.declares(name) {
            let w = weights[name]!
            let buffer = try graph.input(name)
            for i in buffer.indices { buffer[i] = w[i] + Float(r.rng.normal() * r.sigma) }
        }
        randomization = r
    }

    /// Logits [N, K] of `images` [N·D] (copied out).
    public func logits(_ images: [Float]) throws -> [Float] {
        try resample(logitsGraph)
        try logitsGraph.setInput("input", images)
        try logitsGraph.run()
        forwardPasses += 1
        return Array(logitsGraph.output(0))
    }

    /// Per-example loss [N], logits [N, K] and the gradient of the summed loss [N·D] at `images`.
    public func lossAndGradient(_ loss: AttackLoss, at images: [Float], labels: [Int32], targetLabels: [Int32]? = nil,
                                targetLogits: [Float]? = nil) throws -> (loss: [Float], logits: [Float], gradient: [Float]) {
        let graph = try lossGraph(loss)
        try resample(graph)
        try graph.setInput("input/adversarial", images)
        try graph.setInput("label", oneHot(labels))
        if let targetLabels { try graph.setInput("target_label", oneHot(targetLabels)) }
        if let targetLogits { try graph.setInput("target", targetLogits) }
        try graph.run()
        gradientPasses += 1
        return (Array(graph.output(0)), Array(graph.output(1)), Array(graph.output(2)))
    }

    func lossGraph(_ loss: AttackLoss) throws -> any CompiledGraph {
        if let graph = lossGraphs[loss] { return graph }
        precondition(classes >= loss.minimumClasses, "\(loss) needs \(loss.minimumClasses) classes")
        let builder = GraphBuilder()
        let scope = Scope(builder: builder, mode: mode)
        let x = builder.input("input/adversarial", shape: inputShape)
        let logits = model.logits(x, scope)
        let values = loss.values(logits, builder)
        let graph = try compiler(vjp(builder.finish([values, logits]), of: 0, wrt: ["input/adversarial"]))
        try write(weights, into: graph)
        lossGraphs[loss] = graph
        return graph
    }

    /// The fused projected step of `loss` under `threat` (PGD's inner loop, compiled once).
    public func stepGraph(_ loss: AttackLoss, _ threat: ThreatModel) throws -> any CompiledGraph {
        let key = StepKey(loss: loss, threat: threat)
        if let graph = stepGraphs[key] { return graph }
        let graph = try compiler(buildProjectedStepGraph(model: model, inputShape: inputShape, classes: classes,
                                                         loss: loss, threat: threat, mode: mode))
        try write(weights, into: graph)
        stepGraphs[key] = graph
        return graph
    }

    func oneHot(_ labels: [Int32]) -> [Float] {
        var out = [Float](repeating: 0, count: labels.count * classes)
        for (i, y) in labels.enumerated() { out[i * classes + Int(y)] = 1 }
        return out
    }

    /// Whether each row's argmax (the first maximum, as PyTorch's) is its label.
    public func correct(_ logits: [Float], _ labels: [Int32]) -> [Bool] {
        labels.indices.map { predictedClass(logits, row: $0) == Int(labels[$0]) }
    }

    public func predictedClass(_ logits: [Float], row i: Int) -> Int {
        var best = 0
        for k in 1..<classes where logits[i * classes + k] > logits[i * classes + best] { best = k }
        return best
    }
}
