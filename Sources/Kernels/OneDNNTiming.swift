import Dispatch

// oneDNN against rat's own convolutions on the zoo's shapes, side by side in one process
// (`rat bench --onednn`): the measurement that decides which shapes oneDNN runs.

/// Every convolution shape of small-cnn and PreAct ResNet-18 on 32×32 inputs.
public func zooConvolutionShapes(batch n: Int = 128) -> [(model: String, shape: ConvShape)] {
    func shape(_ c: Int, _ h: Int, _ o: Int, _ k: Int, _ stride: Int) -> ConvShape {
        ConvShape(n: n, c: c, h: h, w: h, o: o, k: k, stride: stride, padding: k / 2, groups: 1)
    }
    return [
        ("small-cnn", shape(3, 32, 32, 3, 1)), ("small-cnn", shape(32, 32, 64, 3, 2)),
        ("small-cnn", shape(64, 16, 128, 3, 2)),
        ("preact-resnet18", shape(3, 32, 64, 3, 1)), ("preact-resnet18", shape(64, 32, 64, 3, 1)),
        ("preact-resnet18", shape(64, 32, 128, 3, 2)), ("preact-resnet18", shape(64, 32, 128, 1, 2)),
        ("preact-resnet18", shape(128, 16, 128, 3, 1)), ("preact-resnet18", shape(128, 16, 256, 3, 2)),
        ("preact-resnet18", shape(128, 16, 256, 1, 2)), ("preact-resnet18", shape(256, 8, 256, 3, 1)),
        ("preact-resnet18", shape(256, 8, 512, 3, 2)), ("preact-resnet18", shape(256, 8, 512, 1, 2)),
        ("preact-resnet18", shape(512, 4, 512, 3, 1)),
    ]
}

/// Median ms per call of one direction of one shape: rat's kernels and oneDNN's, blocked
/// (reorders from and to NCHW included) and with NCHW activations.
public struct OneDNNTiming: Sendable {
    public var shape: ConvShape
    public var direction: ConvolutionDirection
    public var ratMs: Double
    public var blockedMs, plainMs: Double?
    public var blockedImplementation, plainImplementation: String
    /// oneDNN's Winograd (blocked), for stride-1 3×3 shapes where it accepts the direction.
    public var winogradMs: Double?
    /// Relative L2 error against the Double reference, at batch 2 of the same shape: oneDNN's
    /// blocked direct kernel and its Winograd.
    public var directError, winogradError: Double?
}

public func oneDNNTimings(shapes: [ConvShape], repeats: Int = 5) -> [OneDNNTiming] {
    var timings = [OneDNNTiming]()
    for s in shapes {
        let b = ConvolutionBuffers(s)
        defer { b.deallocate() }
        for direction in ConvolutionDirection.allCases {
            let rat: () -> Void
            switch direction {
            case .forward: rat = { conv2dForward(b.y, b.x, b.w, s, scratch: b.scratch) }
            case .backwardData: rat = { conv2dInputGrad(b.dx, b.dy, b.w, s, scratch: b.scratch) }
            case .backwardWeights: rat = { conv2dFilterGrad(b.dw, b.x, b.dy, s, scratch: b.scratch) }
            }
            let primitives = [true, false].map { OneDNNConvolution(s, direction, blocked: $0) }
                + [OneDNNConvolution(s, direction, winograd: true)]
            let workspace = OneDNNWorkspace(bytes: primitives.map { $0?.workspaceBytes ?? 0 }.max()!)
            let ws = workspace.base
            var bodies = [rat]
            for p in primitives.compactMap({ $0 }) {
                switch direction {
                case .forward: bodies.append { p.run(x: b.x, w: b.w, y: b.y, workspace: ws) }
                case .backwardData: bodies.append { p.run(x: b.dx, w: b.w, y: b.dy, workspace: ws) }
                case .backwardWeights: bodies.append { p.run(x: b.x, w: b.dw, y: b.dy, workspace: ws) }
                }
            }
            let ms = withExtendedLifetime(workspace) { medianSeconds(repeats: repeats, bodies).map { $0 * 1e3 } }
            var next = 1
            func take(_ p: OneDNNConvolution?) -> Double? {
                guard p != nil else { return nil }
                defer { next += 1 }
                return ms[next]
            }
            let blocked = take(primitives[0]), plain = take(primitives[1]), winograd = take(primitives[2])
            var small = s
            small.n = 2
            timings.append(OneDNNTiming(shape: s, direction: direction, ratMs: ms[0], blockedMs: blocked, plainMs: plain,
                                        blockedImplementation: primitives[0]?.implementation ?? "-",
                                        plainImplementation: primitives[1]?.implementation ?? "-", winogradMs: winograd,
                                        directError: oneDNNError(small, direction, winograd: false),
                                        winogradError: winograd == nil ? nil : oneDNNError(small, direction, winograd: true)))
        }
    }
    return timings
}

/// oneDNN's relative L2 error on one direction of a shape (blocked layouts) against the
/// Double reference, on inputs uniform in [−1, 1).
public func oneDNNError(_ s: ConvShape, _ direction: ConvolutionDirection, winograd: Bool) -> Double? {
    guard let primitive = OneDNNConvolution(s, direction, winograd: winograd) else { return nil }
    let b = ConvolutionBuffers(s)
    defer { b.deallocate() }
    let workspace = OneDNNWorkspace(bytes: primitive.workspaceBytes)
    let (x, w, dy) = (Array(UnsafeBufferPointer(start: b.x, count: b.counts.x)),
                      Array(UnsafeBufferPointer(start: b.w, count: b.counts.w)),
                      Array(UnsafeBufferPointer(start: b.dy, count: b.counts.y)))
    let reference = convolutionDoubleReference(s, x: x, w: w, dy: dy)
    switch direction {
    case .forward:
        primitive.run(x: b.x, w: b.w, y: b.y, workspace: workspace.base)
        return relativeL2Error(Array(UnsafeBufferPointer(start: b.y, count: b.counts.y)), reference.y)
    case .backwardData:
        primitive.run(x: b.dx, w: b.w, y: b.dy, workspace: workspace.base)
        return relativeL2Error(Array(UnsafeBufferPointer(start: b.dx, count: b.counts.x)), reference.dx)
    case .backwardWeights:
        primitive.run(x: b.x, w: b.dw, y: b.dy, workspace: workspace.base)
        return relativeL2Error(Array(UnsafeBufferPointer(start: b.dw, count: b.counts.w)), reference.dw)
    }
}

/// Median seconds of each body, run in turn `repeats` times after one warm-up call each
/// (alternating, so that load on a shared machine hits every body alike).
func medianSeconds(repeats: Int, _ bodies: [() -> Void]) -> [Double] {
    for body in bodies { body() }
    var times = [[Double]](repeating: [], count: bodies.count)
    for _ in 0..<repeats {
        for (i, body) in bodies.enumerated() {
            let start = DispatchTime.now().uptimeNanoseconds
            body()
            times[i].append(Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9)
        }
    }
    return times.map { $0.sorted()[$0.count / 2] }
}

/// The tensors of one convolution, filled from a fixed-seed generator in [−1, 1), and the
/// scratch rat's kernels need.
final class ConvolutionBuffers {
    let x, dx: UnsafeMutablePointer<Float>   // [N,C,H,W]
    let w, dw: UnsafeMutablePointer<Float>   // [O,Cg,K,K]
    let y, dy: UnsafeMutablePointer<Float>   // [N,O,OH,OW]
    let scratch: UnsafeMutablePointer<Float> // col, t
    let counts: (x: Int, w: Int, y: Int)

    init(_ s: ConvShape) {
        counts = (s.n * s.c * s.inPlane, s.o * s.colRows, s.n * s.o * s.outPlane)
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func filled(_ count: Int) -> UnsafeMutablePointer<Float> {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: max(1, count))
            for i in 0..<count {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                p[i] = Float(Int32(truncatingIfNeeded: state >> 32)) / 2_147_483_648
            }
            return p
        }
        (x, dx, w, dw) = (filled(counts.x), filled(counts.x), filled(counts.w), filled(counts.w))
        (y, dy, scratch) = (filled(counts.y), filled(counts.y), filled(s.scratchElements))
    }

    func deallocate() { for p in [x, dx, w, dw, y, dy, scratch] { p.deallocate() } }
}
