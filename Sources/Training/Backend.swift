import Executor
import Graph
import Planner

/// A graph compiled for repeated runs. Training feeds Float32 buffers by input name and
/// reads outputs by index; which backend runs it is the caller's choice.
public protocol CompiledGraph: AnyObject {
    var graph: Graph { get }
    /// Runs the graph on the fed inputs (inputs the graph does not declare are ignored).
    func run(_ feed: [String: [Float]]) throws -> [[Float]]
}

/// Compiles graphs for a backend.
public typealias GraphCompiler = @Sendable (Graph) throws -> any CompiledGraph

/// The Double reference backend behind the `CompiledGraph` interface: slow, for checks
/// (gradcheck on a recipe, tests of the training loop on tiny models).
public final class ReferenceGraph: CompiledGraph {
    public let graph: Graph
    private let declared: [String: [Int]]

    public init(_ graph: Graph) {
        self.graph = graph
        declared = Dictionary(graph.inputs.map { ($0.name, graph.nodes[$0.node].shape) }, uniquingKeysWith: { a, _ in a })
    }

    public func run(_ feed: [String: [Float]]) throws -> [[Float]] {
        var inputs = [String: DTensor]()
        for (name, shape) in declared {
            guard let values = feed[name] else { throw RunError.missingInput(name) }
            guard values.count == shape.reduce(1, *) else {
                throw RunError.shapeMismatch(input: name, expected: shape, got: [values.count])
            }
            inputs[name] = DTensor(shape: shape, data: values.map(Double.init))
        }
        return try evaluateReference(graph, inputs: inputs).map { $0.data.map(Float.init) }
    }
}

public let referenceCompiler: GraphCompiler = { ReferenceGraph($0) }

/// The planned Float32 executor behind the `CompiledGraph` interface.
public final class FastGraph: CompiledGraph {
    public let graph: Graph
    public let executor: Executor

    public init(_ graph: Graph) {
        self.graph = graph
        executor = Executor(plan: plan(graph))
    }

    public func run(_ feed: [String: [Float]]) throws -> [[Float]] {
        for (name, shape) in executor.inputs {
            guard let values = feed[name] else { throw RunError.missingInput(name) }
            guard values.count == shape.reduce(1, *) else { throw RunError.shapeMismatch(input: name, expected: shape, got: [values.count]) }
            let buffer = try executor.inputBuffer(named: name)
            values.withUnsafeBufferPointer { _ = buffer.update(fromContentsOf: $0) }
        }
        executor.run()
        return graph.outputs.indices.map { Array(executor.outputBuffer($0)) }
    }
}

public let fastCompiler: GraphCompiler = { FastGraph($0) }
