import Graph

/// Rewrites a graph into an equivalent smaller one: every node is rebuilt through a
/// hash-consing `GraphBuilder` (common-subexpression elimination: jvp∘jvp with one tangent
/// builds its first-order stream twice, and the copies become one), constants are folded,
/// algebraic identities with splat constants are applied, stop-gradients become the
/// identity (an executor only runs forward values) and nodes no output needs are dropped.
/// Every input of the original graph is kept, so that callers can feed all of them.
public func simplify(_ graph: Graph) -> Graph {
    let live = liveNodes(graph)
    let builder = GraphBuilder()
    var remap = [Int](repeating: -1, count: graph.nodes.count)
    for (i, node) in graph.nodes.enumerated() where node.op.kind == .input {
        remap[i] = builder.append(node)
    }
    for (i, node) in graph.nodes.enumerated() where live[i] && node.op.kind != .input {
        let operands = node.inputs.map { remap[$0] }
        remap[i] = fold(node.op, operands, node.shape, builder)
            ?? builder.append(Node(op: node.op, inputs: operands, shape: node.shape))
    }
    return eliminateDeadNodes(Graph(nodes: builder.nodes, outputs: graph.outputs.map { remap[$0] }))
}

/// Drops nodes that no output depends on, keeping inputs.
func eliminateDeadNodes(_ graph: Graph) -> Graph {
    var live = liveNodes(graph)
    for (i, node) in graph.nodes.enumerated() where node.op.kind == .input { live[i] = true }
    var remap = [Int](repeating: -1, count: graph.nodes.count)
    var nodes = [Node]()
    for (i, node) in graph.nodes.enumerated() where live[i] {
        remap[i] = nodes.count
        nodes.append(Node(op: node.op, inputs: node.inputs.map { remap[$0] }, shape: node.shape))
    }
    return Graph(nodes: nodes, outputs: graph.outputs.map { remap[$0] })
}

/// The folded replacement of a node, or nil to build it as it is.
private func fold(_ op: Op, _ operands: [Int], _ shape: [Int], _ b: GraphBuilder) -> Int? {
    func constant(_ id: Int) -> Double? {
        if case .constant(let v) = b.nodes[id].op { return v }
        return nil
    }
    func splat(_ v: Double) -> Int { b.append(Node(op: .constant(v), inputs: [], shape: shape)) }
    let values = operands.map(constant)
    let count = shape.reduce(1, *)

    if op.isElementwise, !operands.isEmpty, values.allSatisfy({ $0 != nil }) {
        // Evaluate the primitive's own reference rule on one element.
        let scalars = values.map { DTensor(shape: [1], data: [$0!]) }
        return splat(op.rule.reference(scalars, Node(op: op, inputs: operands, shape: [1])).data[0])
    }
    switch op {
    case .stopGradient:
        return operands[0]
    case .reshape, .broadcast, .transpose:
        if let v = values[0] { return splat(v) }
        if b.nodes[operands[0]].shape == shape { return operands[0] }
        if case .reshape = op, case .reshape = b.nodes[operands[0]].op {
            let inner = b.nodes[operands[0]].inputs[0]
            if b.nodes[inner].shape == shape { return inner }
            return b.append(Node(op: .reshape, inputs: [inner], shape: shape))
        }
    case .sum:
        if let v = values[0] { return splat(v * Double(b.nodes[operands[0]].elementCount / max(count, 1))) }
    case .max:
        if let v = values[0] { return splat(v) }
    case .neg:
        if case .neg = b.nodes[operands[0]].op { return b.nodes[operands[0]].inputs[0] }
    case .add:
        if values[0] == 0 { return operands[1] }
        if values[1] == 0 { return operands[0] }
    case .sub:
        if values[1] == 0 { return operands[0] }
        if values[0] == 0 { return b.append(Node(op: .neg, inputs: [operands[1]], shape: shape)) }
    case .mul:
        if values[0] == 1 { return operands[1] }
        if values[1] == 1 { return operands[0] }
        if values[0] == 0 || values[1] == 0 { return splat(0) }
        if values[0] == -1 { return b.append(Node(op: .neg, inputs: [operands[1]], shape: shape)) }
        if values[1] == -1 { return b.append(Node(op: .neg, inputs: [operands[0]], shape: shape)) }
    case .div:
        if values[1] == 1 { return operands[0] }
        if values[0] == 0 { return splat(0) }
    case .matmul, .conv2d, .conv2dInputGrad, .conv2dFilterGrad:
        // Bilinear: a zero operand gives zero.
        if values.contains(0) { return splat(0) }
    default:
        break
    }
    return nil
}
