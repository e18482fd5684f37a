import Kernels

// Merged convolutions and convolution groups on oneDNN. The planner makes them for rat's
// im2col kernels (one im2col of a shared operand, one gemm over stacked filters); on oneDNN
// the same stacking is a convolution over channel-stacked operands: a group's output
//   y = Σₜ cₜ·conv(x_slot(t), wₜ) = conv([x₁; x₂; …], [W₁ | W₂ | …])
//   dx = Σₜ cₜ·inputGrad(dy_slot(t), wₜ) = inputGrad([dy₁; dy₂; …], [W₁; W₂; …])
// with W_p the coefficient-weighted sum of the filters on slot p, and a merged step's one
// convolution with its filters stacked and its output split. oneDNN reorders each part into
// its channel range of its blocked copy, so no sum pass and no concatenation pass is added.
// (Before this, every Taylor tangent convolution of layers with C·K·K > 32 ran on rat's
// im2col + OpenBLAS while trades' plain convolutions ran on oneDNN: docs/performance.md,
// "Taylor step after oneDNN, 2026-12-02".)

/// One convolution over channel-stacked operands, run by oneDNN: its filter is built from the
/// graph's filters at the start of the workspace, then the primitive runs on the parts.
struct OneDNNStackedStep {
    let primitive: OneDNNConvolution
    /// The NCHW tensors holding x's channels (dx for backward data) and y's (dy), in order.
    let x, y: [UnsafeMutablePointer<Float>]
    let filter: StackedFilter
    /// Bytes of the workspace the stacked filter takes (64-byte aligned), before the primitive's.
    var filterBytes: Int { (4 * filter.floats + 63) / 64 * 64 }
    var workspaceBytes: Int { filterBytes + primitive.workspaceBytes }

    func run(workspace: UnsafeMutableRawPointer) {
        let w = workspace.assumingMemoryBound(to: Float.self)
        filter.build(into: w)
        x.withUnsafeBufferPointer { x in
            y.withUnsafeBufferPointer { y in
                primitive.run(x: x.baseAddress!, w: w, y: y.baseAddress!, workspace: workspace + filterBytes)
            }
        }
    }
}

/// The stacked oneDNN steps of a bound merged convolution or convolution group, or nil
/// (rat's kernels keep it) when oneDNN is not assigned the shape or declines a stacking.
/// `primitive` creates (or reuses) the primitive of a stacked shape and its parts.
func stackedOneDNNSteps(_ step: BoundStep,
                        primitive: (ConvShape, ConvolutionDirection, _ xChannels: [Int], _ yChannels: [Int]) -> OneDNNConvolution?)
    -> [OneDNNStackedStep]? {
    switch step {
    case .mergedConv2d(let y, let x, let filters, _, let s):
        // x ⊛ [w₁; w₂; …] (filters along O) → y split along O.
        let parts = y.parts
        guard s.runsOnOneDNN(.forward),
              let p = primitive(s, .forward, [s.c], parts.map(\.channels)) else { return nil }
        let filter = StackedFilter(rows: 1, parts: filters.map { filter, count in
            StackedFilter.Part(segment: count, terms: [(filter: filter, coefficient: Float(1))])
        })
        return [OneDNNStackedStep(primitive: p, x: [UnsafeMutablePointer(mutating: x)], y: parts.map(\.start), filter: filter)]
    case .mergedConv2dInputGrad(let dx, let dy, let filters, _, let s):
        // inputGrad(dy, [w₁ | w₂ | …]) (filters along C) → dx split along C.
        let parts = dx.parts
        guard s.runsOnOneDNN(.backwardData),
              let p = primitive(s, .backwardData, parts.map(\.channels), [s.o]) else { return nil }
        let filter = StackedFilter(rows: s.o, parts: filters.map { filter, count in
            StackedFilter.Part(segment: count / s.o, terms: [(filter: filter, coefficient: Float(1))])
        })
        return [OneDNNStackedStep(primitive: p, x: parts.map(\.start), y: [UnsafeMutablePointer(mutating: dy)], filter: filter)]
    case .convolutionGroup(let g):
        let s = g.shape
        let direction: ConvolutionDirection = g.transpose ? .backwardData : .forward
        guard s.runsOnOneDNN(direction) else { return nil }
        var steps = [OneDNNStackedStep]()
        for (output, runs) in zip(g.outputs, g.runs) {
            let terms = runs.flatMap(\.terms)
            let slots = Set(terms.map(\.slot)).sorted()
            let operands = slots.map { UnsafeMutablePointer(mutating: g.slots[$0]) }
            let parts = slots.map { slot in
                StackedFilter.Part(segment: g.transpose ? s.o * s.colRows : s.colRows,
                                   terms: terms.filter { $0.slot == slot }.map { ($0.filter, $0.coefficient) })
            }
            var stacked = s
            if g.transpose {
                stacked.o = slots.count * s.o
                guard let p = primitive(stacked, .backwardData, [s.c], slots.map { _ in s.o }) else { return nil }
                steps.append(OneDNNStackedStep(primitive: p, x: [output], y: operands, filter: StackedFilter(rows: 1, parts: parts)))
            } else {
                stacked.c = slots.count * s.c
                guard let p = primitive(stacked, .forward, slots.map { _ in s.c }, [s.o]) else { return nil }
                steps.append(OneDNNStackedStep(primitive: p, x: operands, y: [output], filter: StackedFilter(rows: s.o, parts: parts)))
            }
        }
        return steps
    default:
        return nil
    }
}
