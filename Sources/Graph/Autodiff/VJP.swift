/// Reverse mode as a graph → graph transform.
///
/// Differentiates the sum of the elements of output `of` (seed: ones; for a scalar loss,
/// its gradient) with respect to the named inputs. The result computes the original
/// outputs followed by one gradient per name (zeros where the output does not depend on
/// it), in the same primitive set, so it can be applied to graphs that `jvp` produced:
/// that is how the gradient of a Taylor term is obtained.
public func vjp(_ graph: Graph, of outputIndex: Int = 0, wrt names: [String]) -> Graph {
    let builder = GraphBuilder()
    var primal = [Tensor]()
    for node in graph.nodes {
        primal.append(builder.tensor(builder.append(Node(op: node.op, inputs: node.inputs.map { primal[$0].id }, shape: node.shape))))
    }
    let target = graph.outputs[outputIndex]

    // Only nodes that depend on a differentiated input and that the target depends on
    // carry cotangents; everything else is skipped.
    let wanted = Set(names)
    var dependsOnInput = [Bool](repeating: false, count: graph.nodes.count)
    for (i, node) in graph.nodes.enumerated() {
        if case .input(let name) = node.op { dependsOnInput[i] = wanted.contains(name) }
        else { dependsOnInput[i] = node.inputs.contains { dependsOnInput[$0] } }
    }
    let feedsTarget = liveNodes(Graph(nodes: graph.nodes, outputs: [target]))

    var cotangent = [Tensor?](repeating: nil, count: graph.nodes.count)
    cotangent[target] = builder.constant(1, shape: graph.nodes[target].shape)
    for i in stride(from: graph.nodes.count - 1, through: 0, by: -1) {
        let node = graph.nodes[i]
        guard dependsOnInput[i], feedsTarget[i], let seed = cotangent[i], !node.inputs.isEmpty else { continue }
        let operands = node.inputs.map { primal[$0] }
        let grads = node.op.rule.vjp(Cotangent(operands: operands, output: primal[i], cotangent: seed))
        for (operand, grad) in zip(node.inputs, grads) where dependsOnInput[operand] {
            if let grad { cotangent[operand] = addTangents(cotangent[operand], grad) }
        }
    }

    let gradients = names.map { name -> Tensor in
        guard let node = graph.inputNode(named: name) else {
            preconditionFailure("vjp with respect to '\(name)', which is not an input of the graph")
        }
        return cotangent[node] ?? builder.constant(0, shape: graph.nodes[node].shape)
    }
    return builder.finish(graph.outputs.map { primal[$0] } + gradients)
}
