/// Errors a run reports instead of crashing on what the caller fed.
public enum RunError: Error, CustomStringConvertible {
    case missingInput(String)
    case shapeMismatch(input: String, expected: [Int], got: [Int])

    public var description: String {
        switch self {
        case .missingInput(let name): "no value fed for graph input '\(name)'"
        case .shapeMismatch(let name, let e, let g): "input '\(name)' has shape \(g), the graph expects \(e)"
        }
    }
}

/// The reference backend: evaluates a graph node by node in Double with each primitive's
/// reference forward. Slow and obviously right.
public func evaluateReference(_ graph: Graph, inputs: [String: DTensor]) throws -> [DTensor] {
    var values = [DTensor?](repeating: nil, count: graph.nodes.count)
    let needed = liveNodes(graph)
    for (i, node) in graph.nodes.enumerated() where needed[i] {
        if case .input(let name) = node.op {
            guard let v = inputs[name] else { throw RunError.missingInput(name) }
            guard v.shape == node.shape else { throw RunError.shapeMismatch(input: name, expected: node.shape, got: v.shape) }
            values[i] = v
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
