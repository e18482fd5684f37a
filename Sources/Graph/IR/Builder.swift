/// Builds a graph node by node. Identical nodes (same op, operands and shape) are created once
/// (hash-consing), which is common-subexpression elimination at construction time: the
/// repeated primal streams of nested forward mode collapse into one.
///
/// Not thread-safe: one builder belongs to one construction.
public final class GraphBuilder {
    public private(set) var nodes: [Node] = []
    private var existing: [Node: Int] = [:]
    private var inputShapes: [String: [Int]] = [:]

    public init() {}

    /// Starts from an existing graph, so new nodes can be appended to it.
    public convenience init(_ graph: Graph) {
        self.init()
        for node in graph.nodes { _ = append(node) }
    }

    public func shape(of id: Int) -> [Int] { nodes[id].shape }

    /// Adds a node, or returns the identical one already built.
    public func append(_ node: Node) -> Int {
        if let id = existing[node] { return id }
        if case .input(let name) = node.op {
            precondition(inputShapes[name] == nil, "input '\(name)' declared twice with shapes \(inputShapes[name]!) and \(node.shape)")
            inputShapes[name] = node.shape
        }
        nodes.append(node)
        existing[node] = nodes.count - 1
        return nodes.count - 1
    }

    func make(_ op: Op, _ operands: [Tensor], shape: [Int]) -> Tensor {
        Tensor(append(Node(op: op, inputs: operands.map(\.id), shape: shape)), self)
    }

    /// A tensor fed from outside. Declaring the same name again with the same shape returns it.
    public func input(_ name: String, shape: [Int]) -> Tensor {
        make(.input(name), [], shape: shape)
    }

    public func constant(_ value: Double, shape: [Int]) -> Tensor {
        make(.constant(value), [], shape: shape)
    }

    public func tensor(_ id: Int) -> Tensor { Tensor(id, self) }

    public func finish(_ outputs: [Tensor]) -> Graph {
        Graph(nodes: nodes, outputs: outputs.map(\.id))
    }
}

/// A handle to a node under construction. Arithmetic on handles appends nodes to the builder.
public struct Tensor {
    public let id: Int
    public unowned let builder: GraphBuilder

    init(_ id: Int, _ builder: GraphBuilder) {
        self.id = id
        self.builder = builder
    }

    public var shape: [Int] { builder.shape(of: id) }
    public var rank: Int { shape.count }
    public var elementCount: Int { shape.reduce(1, *) }
    public var op: Op { builder.nodes[id].op }

    /// The constant value if this node is a splat constant.
    public var constantValue: Double? {
        if case .constant(let v) = op { return v }
        return nil
    }
}
