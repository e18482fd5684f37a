import Graph

// Convolutions that share an operand run as one step (see `Kernels/MergedConvolution`):
// forward mode along the weight noise u makes conv2d(x, w) and conv2d(x, u) for every
// layer, and reverse mode through them makes conv2dInputGrad(dy, w) and (dy, u). Merged,
// they read the shared operand once (one im2col, or one gather of dy) and run one gemm
// twice as tall, which is also closer to the sgemm peak than two thin ones.

/// What makes two convolution nodes mergeable: the same primitive and attributes, the same
/// shared operand, and filters that differ only along the stacked axis.
private struct MergeKey: Hashable {
    var op: Op
    var shared: Int
    var filterRest: [Int]   // the filter's shape without the stacked axis
    var outputRest: [Int]   // the output's shape without its channel axis
}

/// For the first node of every group of mergeable convolutions (in node order), the other
/// members. A node joins a group only if all its operands precede the group's first node,
/// so that the merged step can run at the first node's place in the schedule.
func convolutionMergeGroups(_ nodes: [Node], excluding: [Bool]) -> [Int: [Int]] {
    var firstOfKey = [MergeKey: Int]()
    var groups = [Int: [Int]]()
    for (i, node) in nodes.enumerated() where !excluding[i] {
        let key: MergeKey
        // Only convolutions have a filter operand and a 4-d output (reading them for every
        // node read past the end of scalar shapes, unnoticed under -Ounchecked).
        switch node.op {
        case .conv2d(let c) where c.groups == 1:
            let (w, rest) = (nodes[node.inputs[1]].shape, [node.shape[0]] + node.shape.dropFirst(2))
            key = MergeKey(op: node.op, shared: node.inputs[0], filterRest: Array(w.dropFirst()), outputRest: rest)
        case .conv2dInputGrad(let c) where c.groups == 1:
            let (w, rest) = (nodes[node.inputs[1]].shape, [node.shape[0]] + node.shape.dropFirst(2))
            key = MergeKey(op: node.op, shared: node.inputs[0], filterRest: [w[0]] + w.dropFirst(2), outputRest: rest)
        default:
            continue
        }
        if let first = firstOfKey[key], node.inputs.allSatisfy({ $0 < first }) {
            groups[first, default: []].append(i)
        } else if firstOfKey[key] == nil {
            firstOfKey[key] = i
        }
    }
    return groups
}

/// The stacked problem a merged step solves, from its buffers: operands are the shared
/// operand then one filter per member; outputs are the members' outputs in order.
///   conv2d:          x[N,C,H,W], filters wₖ[Oₖ,C,K,K] → y[N,ΣOₖ,OH,OW]
///   conv2dInputGrad: dy[N,O,OH,OW], filters wₖ[O,Cₖ,K,K] → dx[N,ΣCₖ,H,W]
public func mergedConvolutionShapes(_ op: Op, operands: [BufferRef], outputs: [BufferRef])
    -> (x: [Int], w: [Int], y: [Int]) {
    let filters = operands.dropFirst().map(\.shape)
    let first = filters[0]
    switch op {
    case .conv2d:
        let o = filters.reduce(0) { $0 + $1[0] }
        let y = outputs[0].shape
        return (operands[0].shape, [o] + first.dropFirst(), [y[0], o, y[2], y[3]])
    case .conv2dInputGrad:
        let c = filters.reduce(0) { $0 + $1[1] }
        let x = outputs[0].shape
        return ([x[0], c, x[2], x[3]], [first[0], c, first[2], first[3]], operands[0].shape)
    default:
        preconditionFailure("\(op) is not mergeable")
    }
}

/// Floats of the stacked filter a merged step builds at the start of its scratch
/// (rounded so that the im2col scratch after it stays 64-byte aligned).
public func stackedFilterFloats(_ w: [Int]) -> Int { (w.reduce(1, *) + 15) / 16 * 16 }
