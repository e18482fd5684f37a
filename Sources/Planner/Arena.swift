import Graph

/// First-fit allocation of buffers in one arena, in floats, every buffer 64-byte aligned.
/// Freed ranges merge with their neighbours; the arena grows only when nothing fits.
struct ArenaAllocator {
    static let alignment = 16  // floats: 64 bytes
    private(set) var top = 0
    private var free: [(offset: Int, count: Int)] = []  // sorted by offset, disjoint, not adjacent

    static func rounded(_ count: Int) -> Int { max(alignment, (count + alignment - 1) / alignment * alignment) }

    mutating func allocate(_ count: Int) -> Int {
        let size = Self.rounded(count)
        // Best fit keeps large holes for large buffers.
        if let i = free.indices.filter({ free[$0].count >= size }).min(by: { free[$0].count < free[$1].count }) {
            let offset = free[i].offset
            if free[i].count == size { free.remove(at: i) } else { free[i] = (offset + size, free[i].count - size) }
            return offset
        }
        // Extend a hole that ends at the top instead of leaving it behind.
        if let last = free.last, last.offset + last.count == top {
            free.removeLast()
            top = last.offset + size
            return last.offset
        }
        top += size
        return top - size
    }

    mutating func free(_ offset: Int, _ count: Int) {
        var range = (offset: offset, count: Self.rounded(count))
        let i = free.firstIndex { $0.offset > offset } ?? free.count
        free.insert(range, at: i)
        // Merge with the next and the previous hole.
        if i + 1 < free.count, range.offset + range.count == free[i + 1].offset {
            range.count += free[i + 1].count
            free[i] = range
            free.remove(at: i + 1)
        }
        if i > 0, free[i - 1].offset + free[i - 1].count == range.offset {
            free[i - 1].count += range.count
            free.remove(at: i)
        }
    }
}

/// FLOPs of a non-elementwise node: 2·M·N·K for the bilinear ops (each convolution
/// transpose costs what the forward does), one per input element for reductions, none
/// for data movement.
func primitiveFlops(_ node: Node, _ nodes: [Node]) -> Int {
    switch node.op {
    case .matmul(let ta, _):
        let a = nodes[node.inputs[0]].shape
        return 2 * node.shape[0] * node.shape[1] * (ta ? a[0] : a[1])
    case .conv2d, .conv2dInputGrad, .conv2dFilterGrad:
        let (_, w, y) = convolutionShapes(node, nodes)
        return 2 * y[0] * y[1] * y[2] * y[3] * w[1] * w[2] * w[3]
    case .sum, .max:
        return nodes[node.inputs[0]].elementCount
    default:
        return 0
    }
}

/// The (input, filter, output) shapes of a convolution-family node.
public func convolutionShapes(_ node: Node, _ nodes: [Node]) -> (x: [Int], w: [Int], y: [Int]) {
    let a = nodes[node.inputs[0]].shape, b = nodes[node.inputs[1]].shape
    switch node.op {
    case .conv2d: return (a, b, node.shape)
    case .conv2dInputGrad: return (node.shape, b, a)
    default: return (a, node.shape, b)
    }
}

/// Floats of scratch a convolution step needs: col and gathered output rows of one block
/// of images (the rule of `Kernels.ConvShape.scratchElements`; the executor checks they agree).
func convolutionScratch(_ op: Op, _ step: Step) -> Int {
    switch op {
    case .conv2d(let c):
        return convolutionColumns(c, step.operands[0].shape, step.operands[1].shape, step.output.shape)
    case .conv2dInputGrad(let c):
        return convolutionColumns(c, step.output.shape, step.operands[1].shape, step.operands[0].shape)
    case .conv2dFilterGrad(let c):
        return convolutionColumns(c, step.operands[0].shape, step.output.shape, step.operands[1].shape)
    default:
        return 0
    }
}

/// A merged step's scratch: its stacked filter, then the scratch of the stacked convolution.
func mergedConvolutionScratch(_ op: Op, _ step: Step) -> Int {
    let (x, w, y) = mergedConvolutionShapes(op, operands: step.operands, outputs: step.allOutputs)
    switch op {
    case .conv2d(let c), .conv2dInputGrad(let c): return stackedFilterFloats(w) + convolutionColumns(c, x, w, y)
    default: return 0
    }
}

/// A convolution group's scratch, as `Kernels.ConvolutionGroupProblem` lays it out: the
/// stacked filter of every run of consecutive slots of every output, then col and t.
func convolutionGroupScratch(_ g: ConvolutionGroup, _ step: Step) -> Int {
    let filter = step.operands[g.slots].shape   // [O, C, K, K]
    let forward = g.op.kind == .conv2d
    let (slot, out) = (step.operands[0].shape, step.output.shape)
    let y = forward ? out : slot
    var stacked = 0
    for terms in g.outputs {
        let slots = Set(terms.map(\.slot)).sorted()
        var runStart = 0
        for k in slots.indices where k == slots.count - 1 || slots[k + 1] != slots[k] + 1 {
            stacked += ((k - runStart + 1) * filter.reduce(1, *) + 15) / 16 * 16
            runStart = k + 1
        }
    }
    let (plane, rows) = (y[2] * y[3], filter[1] * filter[2] * filter[3])
    let perColumn = forward ? g.slots * rows + filter[0] : rows + g.slots * filter[0]
    return stacked + perColumn * blockColumns(images: y[0], plane: plane, rows: rows)
}

private func convolutionColumns(_ c: Conv2D, _ x: [Int], _ w: [Int], _ y: [Int]) -> Int {
    let (plane, rows) = (y[2] * y[3], w[1] * w[2] * w[3])
    return (rows + w[0] / c.groups) * blockColumns(images: x[0], plane: plane, rows: rows)
}

/// Columns of one block of images, as `Kernels.ConvShape.blockColumns` chooses them: ~4K,
/// with a col of at most 16M floats.
private func blockColumns(images n: Int, plane: Int, rows: Int) -> Int {
    min(n, max(1, 4_096 / plane), max(1, 16_777_216 / max(1, rows * plane))) * plane
}
