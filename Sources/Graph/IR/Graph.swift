/// A static computation graph in SSA form: each node is computed once from earlier nodes.
public struct Node: Hashable, Sendable {
    public var op: Op
    /// Indices of earlier nodes in `Graph.nodes`.
    public var inputs: [Int]
    /// Static shape; `[]` is a scalar.
    public var shape: [Int]

    public init(op: Op, inputs: [Int], shape: [Int]) {
        self.op = op
        self.inputs = inputs
        self.shape = shape
    }

    public var elementCount: Int { shape.reduce(1, *) }
}

/// An immutable graph: nodes in topological order plus the outputs a run returns.
/// Transforms (`jvp`, `vjp`) and the planner take a `Graph` and return a new one.
public struct Graph: Sendable {
    public var nodes: [Node]
    public var outputs: [Int]

    public init(nodes: [Node], outputs: [Int]) {
        self.nodes = nodes
        self.outputs = outputs
    }

    /// Names and node indices of the graph's inputs, in order of appearance.
    public var inputs: [(name: String, node: Int)] {
        nodes.indices.compactMap { i in
            if case .input(let name) = nodes[i].op { return (name, i) }
            return nil
        }
    }

    public func inputNode(named name: String) -> Int? {
        inputs.first { $0.name == name }?.node
    }

    /// Node counts by primitive kind (for `rat plan` and tests).
    public var countsByKind: [Op.Kind: Int] {
        nodes.reduce(into: [:]) { $0[$1.op.kind, default: 0] += 1 }
    }
}
