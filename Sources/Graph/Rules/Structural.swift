// Structural primitives: broadcast and its transpose `sum`, `max`, reshape, transpose.

/// Linear: the transpose of broadcast is a sum over the expanded axes.
let broadcastRule = Rule(
    reference: { x, node in x[0].broadcast(to: node.shape) },
    jvp: { d in d.tangents[0].map { $0.broadcast(to: d.output.shape) } },
    vjp: { d in
        let from = d.operands[0].shape
        let expanded = from.indices.filter { from[$0] == 1 && d.output.shape[$0] != 1 }
        return [sum(d.cotangent, axes: expanded)]
    })

func sumRule(_ axes: [Int]) -> Rule {
    Rule(
        reference: { x, node in x[0].reduce(to: node.shape, initial: 0, +) },
        jvp: { d in d.tangents[0].map { sum($0, axes: axes) } },
        vjp: { d in [d.cotangent.broadcast(to: d.operands[0].shape)] })
}

/// The derivative flows to the maximal elements, split evenly between ties, so that
/// the JVP and VJP stay adjoint.
func maxRule(_ axes: [Int]) -> Rule {
    @Sendable func share(_ d: (operand: Tensor, output: Tensor)) -> Tensor {
        let hits = equal(d.operand, d.output.broadcast(to: d.operand.shape))
        return hits / sum(hits, axes: axes).broadcast(to: d.operand.shape)
    }
    return Rule(
        reference: { x, node in x[0].reduce(to: node.shape, initial: -.infinity) { Swift.max($0, $1) } },
        jvp: { d in d.tangents[0].map { sum($0 * share((d.operands[0], d.output)), axes: axes) } },
        vjp: { d in [d.cotangent.broadcast(to: d.operands[0].shape) * share((d.operands[0], d.output))] })
}

let reshapeRule = Rule(
    reference: { x, node in DTensor(shape: node.shape, data: x[0].data) },
    jvp: { d in d.tangents[0].map { $0.reshaped(d.output.shape) } },
    vjp: { d in [d.cotangent.reshaped(d.operands[0].shape)] })

func transposeRule(_ permutation: [Int]) -> Rule {
    var inverse = permutation
    for (i, p) in permutation.enumerated() { inverse[p] = i }
    return Rule(
        reference: { x, _ in x[0].transposed(permutation) },
        jvp: { d in d.tangents[0].map { $0.transposed(permutation) } },
        vjp: { [inverse] d in [d.cotangent.transposed(inverse)] })
}
