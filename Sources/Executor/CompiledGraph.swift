
import Graph
import Kernels
import Planner

/// A graph compiled for repeated runs. Inputs are written in place into the graph's own
/// storage and outputs read in place, so a step that runs a graph many times (the attack)
/// copies only what changes between runs.
public protocol CompiledGraph: AnyObject {
    var graph: Graph { get }
    /// Storage of a declared input, to write into before `run()`.
    func input(_ name: String) throws -> UnsafeMutableBufferPointer<Float>
    func run() throws
    /// Output `index` of the last run; valid until the next run.
    func output(_ index: Int) -> UnsafeBufferPointer<Float>
    /// Runs the graph's `crossRankSum` nodes (synchronised BatchNorm across data-parallel
    /// ranks); required before `run()` when the graph has any. See `CrossRankReduction`.
    var crossRankReduction: (any CrossRankReduction)? { get set }
}

extension CompiledGraph {
    /// Copies `values` into an input after checking its size.
    public func setInput(_ name: String, _ values: some Collection<Float>) throws {
        let buffer = try input(name)
        guard values.count == buffer.count else {
            throw RunError.shapeMismatch(input: name, expected: shape(of: name), got: [values.count])
        }
        _ = buffer.update(fromContentsOf: values)
    }

    public var inputNames: [String] { graph.inputs.map(\.name) }

    public func declares(_ name: String) -> Bool { graph.inputNode(named: name) != nil }

    func shape(of name: String) -> [Int] { graph.inputNode(named: name).map { graph.nodes[$0].shape } ?? [] }

    /// Feeds every declared input from `feed`, runs, and returns copies of all outputs.
    public func run(_ feed: [String: [Float]]) throws -> [[Float]] {
        for name in inputNames {
            guard let values = feed[name] else { throw RunError.missingInput(name) }
            try setInput(name, values)
        }
        try run()
        return graph.outputs.indices.map { Array(output($0)) }
    }
}

/// Compiles graphs for a backend.
public typealias GraphCompiler = @Sendable (Graph) throws -> any CompiledGraph

/// `compiler`, with every graph it compiles running its `crossRankSum` nodes with `reduction`
/// (the graphs of a data-parallel rank that synchronises BatchNorm).
public func reducingAcrossRanks(_ compiler: @escaping GraphCompiler, with reduction: any CrossRankReduction) -> GraphCompiler {
    { graph in
        let compiled = try compiler(graph)
        compiled.crossRankReduction = reduction
        return compiled
    }
}

/// The Double reference backend behind the `CompiledGraph` interface: slow, for checks
/// (gradient checks of a recipe's loss, tests of the training loop on tiny models).
public final class ReferenceGraph: CompiledGraph {
    public let graph: Graph
    private var inputs: [String: UnsafeMutableBufferPointer<Float>] = [:]
    private var outputs: [UnsafeMutableBufferPointer<Float>] = []
    public var crossRankReduction: (any CrossRankReduction)?

    public init(_ graph: Graph) {
        self.graph = graph
        for (name, node) in graph.inputs {
            inputs[name] = .allocate(capacity: graph.nodes[node].elementCount)
            inputs[name]!.initialize(repeating: 0)
        }
        outputs = graph.outputs.map { .allocate(capacity: graph.nodes[$0].elementCount) }
        for o in outputs { o.initialize(repeating: 0) }
    }

    deinit {
        for buffer in inputs.values { buffer.deallocate() }
        for buffer in outputs { buffer.deallocate() }
    }

    public func input(_ name: String) throws -> UnsafeMutableBufferPointer<Float> {
        guard let buffer = inputs[name] else { throw RunError.missingInput(name) }
        return buffer
    }

    public func run() throws {
        var values = [String: DTensor]()
        for (name, node) in graph.inputs {
            values[name] = DTensor(shape: graph.nodes[node].shape, data: inputs[name]!.map(Double.init))
        }
        for (buffer, value) in zip(outputs, try evaluateReference(graph, inputs: values, reduction: crossRankReduction)) {
            for i in buffer.indices { buffer[i] = Float(value.data[i]) }
        }
    }

    public func output(_ index: Int) -> UnsafeBufferPointer<Float> { UnsafeBufferPointer(outputs[index]) }
}

/// The planned Float32 executor behind the `CompiledGraph` interface.
public final class FastGraph: CompiledGraph {
    public let graph: Graph
    public let executor: Executor

    /// `oneDNN: false` keeps every convolution on rat's own kernels (`rat bench --against no-onednn`);
    /// `stackedOneDNN: false` keeps merged convolutions and convolution groups on them
    /// (`--against no-onednn-stacking`); `precision`: the inputs of oneDNN's convolutions.
    public init(_ graph: Graph, planner: (Graph) -> Plan = { plan($0) }, oneDNN: Bool = true, stackedOneDNN: Bool = true,
                precision: Precision = .fp32) {
        self.graph = graph
        executor = Executor(plan: planner(graph), oneDNN: oneDNN, stackedOneDNN: stackedOneDNN, precision: precision)
    }

    /// The fast compiler with oneDNN's convolutions in `precision` (`fastCompiler` is fp32).
    public static func compiler(precision: Precision) -> GraphCompiler {
        precision == .fp32 ? fastCompiler : { @Sendable graph in FastGraph(graph, precision: precision) }
    }

    public func input(_ name: String) throws -> UnsafeMutableBufferPointer<Float> {
        try executor.inputBuffer(named: name)
    }

    public func run() throws { executor.run() }

    public var crossRankReduction: (any CrossRankReduction)? {
        get { executor.crossRankReduction }
        set { executor.crossRankReduction = newValue }
    }

    public func output(_ index: Int) -> UnsafeBufferPointer<Float> { executor.outputBuffer(index) }
}

public let referenceCompiler: GraphCompiler = { ReferenceGraph($0) }
public let fastCompiler: GraphCompiler = { FastGraph($0) }
