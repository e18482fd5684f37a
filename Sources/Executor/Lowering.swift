import Graph
import Kernels
import Planner

/// A plan step bound to memory: pointers and kernel parameters computed once at init, so
/// the run loop only dispatches.
enum BoundStep {
    case fill(out: UnsafeMutablePointer<Float>, value: Float, count: Int)
    case fused(outputs: UnsafeMutablePointer<UnsafeMutablePointer<Float>>, inputs: UnsafeMutablePointer<UnsafePointer<Float>>,
               program: ElementwiseProgram, count: Int)
    /// A fused expression over `count` elements summed into `out` (`Operation.fusedSum`).
    case fusedSum(out: UnsafeMutablePointer<Float>, inputs: UnsafeMutablePointer<UnsafePointer<Float>>,
                  program: ElementwiseProgram, count: Int)
    case gather(out: UnsafeMutablePointer<Float>, source: UnsafePointer<Float>, layout: StridedLayout)
    case reduce(out: UnsafeMutablePointer<Float>, source: UnsafePointer<Float>, layout: ReductionLayout, kind: ReductionKind)
    case matmul(out: UnsafeMutablePointer<Float>, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
                m: Int, n: Int, k: Int, transposeA: Bool, transposeB: Bool)
    case conv2d(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, w: UnsafePointer<Float>, ConvShape)
    case conv2dInputGrad(dx: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>, w: UnsafePointer<Float>, ConvShape)
    case conv2dFilterGrad(dw: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, dy: UnsafePointer<Float>, ConvShape)
    /// Convolutions of one x with filters stacked along O (the stacked filter is built in
    /// scratch, `stackedFloats` long, before the kernel's own scratch).
    case mergedConv2d(y: ChannelSplit, x: UnsafePointer<Float>, filters: [(UnsafePointer<Float>, count: Int)],
                      stackedFloats: Int, ConvShape)
    /// Input gradients of one dy with filters stacked along C.
    case mergedConv2dInputGrad(dx: ChannelSplit, dy: UnsafePointer<Float>, filters: [(UnsafePointer<Float>, count: Int)],
                               stackedFloats: Int, ConvShape)
    /// Sums of convolutions (or of input gradients) over shared operands.
    case convolutionGroup(ConvolutionGroupProblem)
    /// A convolution (any direction) run by oneDNN (`substitutingOneDNN`).
    case oneDNN(OneDNNStep)
    /// out = Σ_ranks source over a group of `ranks` (the executor's `CrossRankReduction`).
    case crossRankSum(out: UnsafeMutablePointer<Float>, source: UnsafePointer<Float>, count: Int, ranks: Int)
    /// A merged convolution or convolution group run by oneDNN as convolutions over
    /// channel-stacked operands, one per output (`OneDNNStacking.swift`).
    case oneDNNStacked([OneDNNStackedStep])
}

/// Translates fused expressions into the kernel's instruction set.
func elementwiseProgram(_ instructions: [FusedInstruction], results: [Int], operands: [BufferRef], output: [Int],
                        summed: (plane: Int, kept: Int)? = nil) -> ElementwiseProgram {
    func source(_ s: FusedSource) -> ElementwiseSource {
        switch s {
        case .operand(let k): .input(k)
        case .result(let r): .register(r)
        case .constant(let v): .scalar(Float(v))
        }
    }
    return ElementwiseProgram(results: results, instructions: instructions.map { instruction in
        switch instruction {
        case .broadcast(let k):
            return .gather(input: k, .broadcast(from: operands[k].shape, to: output))
        case .apply(let op, let sources):
            let s = sources.map(source)
            switch op {
            case .neg: return .unary(.neg, s[0])
            case .exp: return .unary(.exp, s[0])
            case .log: return .unary(.log, s[0])
            case .sqrt: return .unary(.sqrt, s[0])
            case .relu: return .unary(.relu, s[0])
            case .step: return .unary(.step, s[0])
            case .sign: return .unary(.sign, s[0])
            case .stopGradient: return .unary(.copy, s[0])
            case .add: return .binary(.add, s[0], s[1])
            case .sub: return .binary(.sub, s[0], s[1])
            case .mul: return .binary(.mul, s[0], s[1])
            case .div: return .binary(.div, s[0], s[1])
            case .maximum: return .binary(.maximum, s[0], s[1])
            case .minimum: return .binary(.minimum, s[0], s[1])
            case .equal: return .binary(.equal, s[0], s[1])
            default: preconditionFailure("\(op) is not elementwise")
            }
        }
    }, summed: summed)
}

/// Kernel sizes of a convolution step from its buffers.
func convShape(_ c: Conv2D, x: [Int], w: [Int], y: [Int]) -> ConvShape {
    ConvShape(n: x[0], c: x[1], h: x[2], w: x[3], o: w[0], k: w[2], stride: c.stride, padding: c.padding, groups: c.groups)
}

func bind(_ step: Step, base: UnsafeMutablePointer<Float>) -> BoundStep {
    let out = base + step.output.offset
    let operands = step.operands.map { UnsafePointer(base + $0.offset) }
    let shapes = step.operands.map(\.shape)
    switch step.operation {
    case .convolutionGroup(let g):
        let conv: Conv2D
        switch g.op {
        case .conv2d(let c), .conv2dInputGrad(let c): conv = c
        default: preconditionFailure("\(g.op) does not form convolution groups")
        }
        let transpose = g.op.kind == .conv2dInputGrad
        let (slot, filter, out) = (shapes[0], shapes[g.slots], step.output.shape)
        let shape = transpose ? convShape(conv, x: out, w: filter, y: slot) : convShape(conv, x: slot, w: filter, y: out)
        let terms = g.outputs.map { terms in
            terms.map { (slot: $0.slot, filter: operands[g.slots + $0.filter], coefficient: Float($0.coefficient)) }
        }
        return .convolutionGroup(ConvolutionGroupProblem(shape: shape, slots: Array(operands.prefix(g.slots)),
                                                         outputs: step.allOutputs.map { base + $0.offset },
                                                         terms: terms, transpose: transpose))
    case .mergedConvolution(let op):
        let (x, w, y) = mergedConvolutionShapes(op, operands: step.operands, outputs: step.allOutputs)
        let filters = step.operands.dropFirst().map { (UnsafePointer(base + $0.offset), count: $0.count) }
        guard case .conv2d(let c) = op else {
            guard case .conv2dInputGrad(let c) = op else { preconditionFailure("\(op) is not mergeable") }
            let dx = ChannelSplit(parts: step.allOutputs.map { (base + $0.offset, $0.shape[1]) }, plane: x[2] * x[3])
            return .mergedConv2dInputGrad(dx: dx, dy: operands[0], filters: filters, stackedFloats: stackedFilterFloats(w),
                                          convShape(c, x: x, w: w, y: y))
        }
        let outputs = ChannelSplit(parts: step.allOutputs.map { (base + $0.offset, $0.shape[1]) }, plane: y[2] * y[3])
        return .mergedConv2d(y: outputs, x: operands[0], filters: filters, stackedFloats: stackedFilterFloats(w),
                             convShape(c, x: x, w: w, y: y))
    case .fill(let v):
        return .fill(out: out, value: Float(v), count: step.output.count)
    case .fusedSum(let instructions, let shape, let plane, let kept):
        let table = UnsafeMutablePointer<UnsafePointer<Float>>.allocate(capacity: max(1, operands.count))
        for (k, p) in operands.enumerated() { table[k] = p }
        return .fusedSum(out: out, inputs: table,
                         program: elementwiseProgram(instructions, results: [instructions.count - 1], operands: step.operands,
                                                     output: shape, summed: (plane, kept)),
                         count: shape.reduce(1, *))
    case .fused(let instructions, let results):
        let table = UnsafeMutablePointer<UnsafePointer<Float>>.allocate(capacity: max(1, operands.count))
        for (k, p) in operands.enumerated() { table[k] = p }
        let outputs = UnsafeMutablePointer<UnsafeMutablePointer<Float>>.allocate(capacity: step.allOutputs.count)
        for (k, o) in step.allOutputs.enumerated() { outputs[k] = base + o.offset }
        return .fused(outputs: outputs, inputs: table,
                      program: elementwiseProgram(instructions, results: results, operands: step.operands, output: step.output.shape),
                      count: step.output.count)
    case .primitive(let op):
        switch op {
        case .broadcast:
            return .gather(out: out, source: operands[0], layout: .broadcast(from: shapes[0], to: step.output.shape))
        case .transpose(let p):
            return .gather(out: out, source: operands[0], layout: .transpose(from: shapes[0], permutation: p))
        case .sum(let axes):
            return .reduce(out: out, source: operands[0], layout: ReductionLayout(inputShape: shapes[0], axes: axes), kind: .sum)
        case .max(let axes):
            return .reduce(out: out, source: operands[0], layout: ReductionLayout(inputShape: shapes[0], axes: axes), kind: .max)
        case .matmul(let ta, let tb):
            let (m, n) = (step.output.shape[0], step.output.shape[1])
            return .matmul(out: out, a: operands[0], b: operands[1], m: m, n: n, k: ta ? shapes[0][0] : shapes[0][1],
                           transposeA: ta, transposeB: tb)
        case .conv2d(let c):
            return .conv2d(y: out, x: operands[0], w: operands[1], convShape(c, x: shapes[0], w: shapes[1], y: step.output.shape))
        case .conv2dInputGrad(let c):
            return .conv2dInputGrad(dx: out, dy: operands[0], w: operands[1],
                                    convShape(c, x: step.output.shape, w: shapes[1], y: shapes[0]))
        case .conv2dFilterGrad(let c):
            return .conv2dFilterGrad(dw: out, x: operands[0], dy: operands[1],
                                     convShape(c, x: shapes[0], w: step.output.shape, y: shapes[1]))
        case .crossRankSum(let ranks):
            return .crossRankSum(out: out, source: operands[0], count: step.output.count, ranks: ranks)
        default:
            preconditionFailure("the planner emitted \(op) as a primitive step")
        }
    }
}
