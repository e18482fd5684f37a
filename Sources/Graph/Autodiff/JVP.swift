/// Forward mode as a graph → graph transform.
///
/// `tangents` maps an input's name to the name of a new input that carries its tangent
/// (a direction, e.g. the weight noise `u`); every other input has tangent zero. The
/// result computes the original outputs followed by their tangents, in the same primitive
/// set, so it can be transformed again: `jvp(jvp(g, t), t)` gives the second directional
/// derivative as its last outputs, and `vjp` of that differentiates through both.
///
/// Tangent inputs keep their names across nesting, so the second `jvp` along the same
/// direction reuses the first one's tangent inputs, and the builder's hash-consing makes
/// the duplicated first-order stream one stream.
public func jvp(_ graph: Graph, tangents: [String: String]) -> Graph {
    let builder = GraphBuilder()
    var primal = [Tensor]()
    var tangent = [Tensor?]()
    primal.reserveCapacity(graph.nodes.count)
    tangent.reserveCapacity(graph.nodes.count)
    for node in graph.nodes {
        let operands = node.inputs.map { primal[$0] }
        let output = builder.tensor(builder.append(Node(op: node.op, inputs: operands.map(\.id), shape: node.shape)))
        primal.append(output)
        let operandTangents = node.inputs.map { tangent[$0] }
        if case .input(let name) = node.op {
            tangent.append(tangents[name].map { builder.input($0, shape: node.shape) })
        } else if operandTangents.allSatisfy({ $0 == nil }) {
            tangent.append(nil)
        } else {
            tangent.append(node.op.rule.jvp(Tangents(operands: operands, output: output, tangents: operandTangents)))
        }
    }
    let outputs = graph.outputs.map { primal[$0] }
    let outputTangents = graph.outputs.map { tangent[$0] ?? builder.constant(0, shape: graph.nodes[$0].shape) }
    return builder.finish(outputs + outputTangents)
}
