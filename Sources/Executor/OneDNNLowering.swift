import Kernels

/// A convolution step oneDNN runs: its primitive (created when the executor is built) and
/// the three tensors in rat's order (see `OneDNNConvolution.run`).
struct OneDNNStep {
    let primitive: OneDNNConvolution
    let x, w, y: UnsafeMutablePointer<Float>
}

/// The bound steps with every plain convolution that `ConvShape.runsOnOneDNN` assigns to
/// oneDNN replaced by a oneDNN step, and the one workspace they share (the executor runs one
/// step at a time). One primitive per shape and direction, shared by the steps that have it.
/// Merged convolutions and convolution groups become convolutions over channel-stacked
/// operands (`OneDNNStacking.swift`) where oneDNN accepts them, else keep rat's kernels.
/// `precision: .bf16`: each primitive is created with bf16 inputs where oneDNN accepts that,
/// else as f32 (`bf16Primitives` counts the bf16 ones among `primitives`).
func substitutingOneDNN(_ steps: [BoundStep], stacked: Bool = true, precision: Precision = .fp32)
    -> (steps: [BoundStep], workspace: OneDNNWorkspace?, primitives: Int, bf16Primitives: Int) {
    guard oneDNNEnabled else { return (steps, nil, 0, 0) }
    var primitives = [ConvolutionKey: OneDNNConvolution?]()
    var stackedBytes = 0
    func primitive(_ s: ConvShape, _ direction: ConvolutionDirection) -> OneDNNConvolution? {
        primitive(s, direction, xChannels: [s.c], yChannels: [s.o])
    }
    func primitive(_ s: ConvShape, _ direction: ConvolutionDirection, xChannels: [Int], yChannels: [Int]) -> OneDNNConvolution? {
        guard s.runsOnOneDNN(direction) else { return nil }
        let key = ConvolutionKey(shape: s, direction: direction, xChannels: xChannels, yChannels: yChannels)
        if let known = primitives[key] { return known }
        // Blocked layouts (nChw16c) for the 3×3 kernels; NCHW activations for the 1×1
        // shortcuts, where oneDNN's NCHW path (its gemm) beat its blocked 1×1 kernel in 7 of
        // 9 shape-directions (`rat bench --onednn`, docs/performance.md, 2026-12-02).
        // Winograd (oneDNN's F(4×4, 3×3)) for the stride-1 3×3 kernels with C ≥ 64: 1.35–3.5×
        // faster than its blocked direct kernel in all 12 zoo shape-directions, relative L2
        // error ≤ 2.3e-6 against the Double reference (direct: ≤ 8e-7) (2026-12-02).
        // nil: oneDNN declined the shape; rat's kernels run it.
        let winograd = s.k == 3 && s.stride == 1 && s.c >= 64
        // bf16: oneDNN's direct kernel (it has no bf16 Winograd), for the directions in
        // `bf16Directions` (the forward one: why, there).
        let bf16 = precision == .bf16 && bf16Directions.contains(direction)
            ? OneDNNConvolution(s, direction, xChannels: xChannels, yChannels: yChannels, blocked: s.k > 1, precision: .bf16)
            : nil
        let created = bf16 ?? OneDNNConvolution(s, direction, xChannels: xChannels, yChannels: yChannels,
                                        blocked: s.k > 1, winograd: winograd)
            ?? (winograd ? OneDNNConvolution(s, direction, xChannels: xChannels, yChannels: yChannels) : nil)
        primitives[key] = created
        return created
    }
    let substituted = steps.map { step -> BoundStep in
        switch step {
        case .conv2d(let y, let x, let w, let s):
            guard let p = primitive(s, .forward) else { return step }
            return .oneDNN(OneDNNStep(primitive: p, x: UnsafeMutablePointer(mutating: x), w: UnsafeMutablePointer(mutating: w), y: y))
        case .conv2dInputGrad(let dx, let dy, let w, let s):
            guard let p = primitive(s, .backwardData) else { return step }
            return .oneDNN(OneDNNStep(primitive: p, x: dx, w: UnsafeMutablePointer(mutating: w), y: UnsafeMutablePointer(mutating: dy)))
        case .conv2dFilterGrad(let dw, let x, let dy, let s):
            guard let p = primitive(s, .backwardWeights) else { return step }
            return .oneDNN(OneDNNStep(primitive: p, x: UnsafeMutablePointer(mutating: x), w: dw, y: UnsafeMutablePointer(mutating: dy)))
        case .mergedConv2d, .mergedConv2dInputGrad, .convolutionGroup:
            guard stacked, let stacked = stackedOneDNNSteps(step, primitive: { primitive($0, $1, xChannels: $2, yChannels: $3) })
            else { return step }
            stackedBytes = max(stackedBytes, stacked.map(\.workspaceBytes).max() ?? 0)
            return .oneDNNStacked(stacked)
        default:
            return step
        }
    }
    let bytes = (primitives.values.compactMap { $0?.workspaceBytes } + [stackedBytes]).max().flatMap { $0 > 0 ? $0 : nil }
    let created = primitives.values.compactMap { $0 }
    return (substituted, bytes.map { OneDNNWorkspace(bytes: $0) }, created.count, created.filter { $0.precision == .bf16 }.count)
}

/// The directions `precision: .bf16` runs in bf16. Measured per shape with ONEDNN_VERBOSE
/// (docs/performance.md, "BF16 (lever 3)", 2026-12-02, AMX): oneDNN 2.6's bf16 forward
/// (`brgconv:avx512_core_amx_bf16`, NHWC) ran 1.0–5.6× faster than its f32 kernel on every
/// zoo shape, a net gain after the reorders; its backward data 0.6–2.0× (and its NHWC output's
/// reorder back to NCHW costs more than the f32 path's), its backward weights 0.45–2.4× and,
/// on small-cnn's 64→128 layer at batch 128, 30–60× slower (0.5–1 s a call). So gradients
/// stay f32; logits and the Taylor terms' tangents (forward-mode: forward convolutions) run bf16.
let bf16Directions: Set<ConvolutionDirection> = [.forward]

private struct ConvolutionKey: Hashable {
    var shape: ConvShape
    var direction: ConvolutionDirection
    var xChannels: [Int]
    var yChannels: [Int]
}
