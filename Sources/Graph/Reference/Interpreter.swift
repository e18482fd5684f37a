/// Errors a run reports instead of crashing on what the caller fed.
public enum RunError: Error, CustomStringConvertible {
    case missingInput(String)
    case shapeMismatch(input: String, expected: [Int], got: [Int])
    /// The graph sums across `ranks` ranks and the run has no reduction of that size.
    case noCrossRankReduction(ranks: Int, given: Int?)

    public var description: String {
        switch self {
        case .missingInput(let name): "no value fed for graph input '\(name)'"
        case .shapeMismatch(let name, let e, let g): "input '\(name)' has shape \(g), the graph expects \(e)"
        case .noCrossRankReduction(let ranks, let given):
            "the graph sums across \(ranks) ranks (synchronised BatchNorm) but the run was given "
                + (given.map { "a reduction over \($0) ranks" } ?? "no cross-rank reduction")
        }
    }
}

/// The reference backend: evaluates a graph node by node in Double with each primitive's
/// reference forward. Slow and obviously right. `crossRankSum` nodes call `reduction`
/// (required when the graph has any), the one rule whose value is not local.
public func evaluateReference(_ graph: Graph, inputs: [String: DTensor],
                              reduction: (any CrossRankReduction)? = nil) throws -> [DTensor] {
    var values = [DTensor?](repeating: nil, count: graph.nodes.count)
    let needed = liveNodes(graph)
    for (i, node) in graph.nodes.enumerated() where needed[i] {
        if case .input(let name) = node.op {
            guard let v = inputs[name] else { throw RunError.missingInput(name) }
            guard v.shape == node.shape else { throw RunError.shapeMismatch(input: name, expected: node.shape, got: v.shape) }
            values[i] = v
        } else if case .crossRankSum(let ranks) = node.op {
            guard let reduction, reduction.ranks == ranks else {
                throw RunError.noCrossRankReduction(ranks: ranks, given: reduction?.ranks)
            }
            var sum = values[node.inputs[0]]!
            sum.data.withUnsafeMutableBufferPointer { reduction.sum($0) }
            values[i] = sum
        } else {
            values[i] = node.op.rule.reference(node.inputs.map { values[$0]! }, node)
        }
    }
    return graph.outputs.map { values[$0]! }
}

/// Marks the nodes that some output depends on.
public func liveNodes(_ graph: Graph) -> [Bool] {
    var live = [Bool](repeating: false, count: graph.nodes.count)
    for o in graph.outputs { live[o] = true }
    for i in stride(from: graph.nodes.count - 1, through: 0, by: -1) where live[i] {
        for j in graph.nodes[i].inputs { live[j] = true }
    }
    return live
}
