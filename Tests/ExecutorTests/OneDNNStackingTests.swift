import Executor
import Graph
import Kernels
import Planner
import Testing

/// oneDNN convolutions over channel-stacked operands (the executor's lowering of merged
/// convolutions and convolution groups): x's (or y's) channels held by several NCHW tensors.
/// Each direction is checked against the Double reference of the stacked problem, with its
/// operands cut into parts, and outputs poisoned with NaN first.
@Suite(.enabled(if: oneDNNEnabled, "RAT_ONEDNN=0 switches oneDNN off"))
struct OneDNNStacking {
    /// [N, ΣCₖ, plane] → one [N, Cₖ, plane] tensor per part.
    static func split(_ t: [Float], images: Int, channels: [Int], plane: Int) -> [[Float]] {
        let total = channels.reduce(0, +)
        var parts = [[Float]]()
        var first = 0
        for c in channels {
            var part = [Float]()
            for n in 0..<images {
                let start: Int = (n * total + first) * plane
                part += t[start ..< start + c * plane]
            }
            parts.append(part)
            first += c
        }
        return parts
    }

    static func join(_ parts: [[Float]], images: Int, channels: [Int], plane: Int) -> [Float] {
        var t = [Float]()
        for n in 0..<images {
            for (part, c) in zip(parts, channels) {
                let start: Int = n * c * plane
                t += part[start ..< start + c * plane]
            }
        }
        return t
    }

    /// Runs a stacked primitive on parts of x and y (the direction's output parts poisoned)
    /// and returns the output joined.
    static func run(_ p: OneDNNConvolution, x: [[Float]], w: [Float], y: [[Float]]) -> (x: [[Float]], y: [[Float]]) {
        var (x, w, y) = (x, w, y)
        let workspace = OneDNNWorkspace(bytes: p.workspaceBytes)
        let xs = UnsafeMutablePointer<UnsafeMutablePointer<Float>>.allocate(capacity: x.count)
        let ys = UnsafeMutablePointer<UnsafeMutablePointer<Float>>.allocate(capacity: y.count)
        defer { xs.deallocate(); ys.deallocate() }
        // Stable storage for the run: copy into allocations, run, copy back.
        let xBuffers = x.map { part in UnsafeMutablePointer<Float>.allocate(capacity: part.count) }
        let yBuffers = y.map { part in UnsafeMutablePointer<Float>.allocate(capacity: part.count) }
        defer { for b in xBuffers + yBuffers { b.deallocate() } }
        for (k, part) in x.enumerated() { xBuffers[k].initialize(from: part, count: part.count); xs[k] = xBuffers[k] }
        for (k, part) in y.enumerated() { yBuffers[k].initialize(from: part, count: part.count); ys[k] = yBuffers[k] }
        w.withUnsafeMutableBufferPointer { p.run(x: xs, w: $0.baseAddress!, y: ys, workspace: workspace.base) }
        for k in x.indices { x[k] = Array(UnsafeBufferPointer(start: xBuffers[k], count: x[k].count)) }
        for k in y.indices { y[k] = Array(UnsafeBufferPointer(start: yBuffers[k], count: y[k].count)) }
        return (x, y)
    }

    /// Stacked shapes as the Taylor graphs make them: small-cnn's layers 2 and 3 (two and
    /// three slots of 32 / 64 channels), a ResNet stride-1 layer (Winograd in the executor)
    /// with parts of 64, and a split output of unequal parts (a merged step).
    static let cases: [(shape: ConvShape, xChannels: [Int], yChannels: [Int], winograd: Bool)] = [
        (ConvShape(n: 2, c: 64, h: 32, w: 32, o: 64, k: 3, stride: 2, padding: 1, groups: 1), [32, 32], [64], false),
        (ConvShape(n: 2, c: 192, h: 16, w: 16, o: 128, k: 3, stride: 2, padding: 1, groups: 1), [64, 64, 64], [128], false),
        (ConvShape(n: 2, c: 64, h: 16, w: 16, o: 128, k: 3, stride: 2, padding: 1, groups: 1), [64], [64, 64], false),
        (ConvShape(n: 2, c: 128, h: 8, w: 8, o: 64, k: 3, stride: 1, padding: 1, groups: 1), [64, 64], [64], true),
        (ConvShape(n: 2, c: 64, h: 8, w: 8, o: 128, k: 3, stride: 1, padding: 1, groups: 1), [64], [32, 96], true),
        (ConvShape(n: 2, c: 48, h: 9, w: 9, o: 32, k: 3, stride: 1, padding: 1, groups: 1), [16, 32], [16, 16], false),
    ]

    @Test(arguments: cases.indices)
    func forwardAndBackwardDataMatchTheDoubleReference(_ index: Int) throws {
        let (s, xChannels, yChannels, winograd) = Self.cases[index]
        let x = FastKernelsMatchNaive.random(s.n * s.c * s.h * s.w, seed: 21)
        let w = FastKernelsMatchNaive.random(s.o * s.colRows, seed: 22)
        let dy = FastKernelsMatchNaive.random(s.n * s.o * s.outPlane, seed: 23)
        let reference = convolutionDoubleReference(s, x: x, w: w, dy: dy)
        let poisonedX = xChannels.map { [Float](repeating: .nan, count: s.n * $0 * s.inPlane) }
        let poisonedY = yChannels.map { [Float](repeating: .nan, count: s.n * $0 * s.outPlane) }
        let xParts = Self.split(x, images: s.n, channels: xChannels, plane: s.inPlane)
        let dyParts = Self.split(dy, images: s.n, channels: yChannels, plane: s.outPlane)
        // Winograd where asked and accepted, else (and always) the direct kernels.
        for useWinograd in winograd ? [true, false] : [false] {
            for direction in [ConvolutionDirection.forward, .backwardData] {
                guard let p = OneDNNConvolution(s, direction, xChannels: xChannels, yChannels: yChannels, winograd: useWinograd) else {
                    #expect(useWinograd, "direct stacked primitive declined: \(s) \(direction) \(xChannels) \(yChannels)")
                    continue
                }
                let (out, expected): ([Float], [Double])
                if direction == .forward {
                    let result = Self.run(p, x: xParts, w: w, y: poisonedY)
                    (out, expected) = (Self.join(result.y, images: s.n, channels: yChannels, plane: s.outPlane), reference.y)
                } else {
                    let result = Self.run(p, x: poisonedX, w: w, y: dyParts)
                    (out, expected) = (Self.join(result.x, images: s.n, channels: xChannels, plane: s.inPlane), reference.dx)
                }
                let error = relativeL2Error(out, expected)
                #expect(error < 1e-5, "\(s) \(direction) x \(xChannels) y \(yChannels) winograd \(useWinograd) (\(p.implementation)): \(error)")
            }
        }
    }

    /// Parts that do not fill whole 16-channel blocks: oneDNN may decline them (nil, and the
    /// executor keeps rat's kernels), but what it accepts must be right.
    @Test func misalignedPartsAreDeclinedOrRight() {
        let s = ConvShape(n: 2, c: 24, h: 8, w: 8, o: 16, k: 3, stride: 1, padding: 1, groups: 1)
        let x = FastKernelsMatchNaive.random(s.n * s.c * s.h * s.w, seed: 31)
        let w = FastKernelsMatchNaive.random(s.o * s.colRows, seed: 32)
        let reference = convolutionDoubleReference(s, x: x, w: w, dy: [Float](repeating: 0, count: s.n * s.o * s.outPlane))
        guard let p = OneDNNConvolution(s, .forward, xChannels: [8, 16], yChannels: [16]) else { return }
        let result = Self.run(p, x: Self.split(x, images: s.n, channels: [8, 16], plane: s.inPlane), w: w,
                              y: [[Float](repeating: .nan, count: s.n * s.o * s.outPlane)])
        #expect(relativeL2Error(result.y[0], reference.y) < 1e-5)
    }

    @Test func channelsMustAddUp() {
        let s = ConvShape(n: 2, c: 32, h: 8, w: 8, o: 16, k: 3, stride: 1, padding: 1, groups: 1)
        #expect(OneDNNConvolution(s, .forward, xChannels: [16, 32], yChannels: [16]) == nil)
        #expect(OneDNNConvolution(s, .backwardWeights, xChannels: [16, 16], yChannels: [16]) == nil)
    }

    /// The sums of convolutions the Taylor graph makes (y, ẏ, ÿ and their input gradients)
    /// at 32 channels: the executor runs its groups on oneDNN, stacked, and computes what
    /// the same plan computes on rat's kernels and what the Double reference does.
    @Test(arguments: [1, 2])
    func taylorSumsRunStackedOnOneDNN(stride: Int) throws {
        let graph = Self.sumGraph(stride: stride, channels: 32)
        let compiled = plan(graph)
        let feeds = randomFeeds(graph, seed: 5, range: ModelParity.range).mapValues { ($0.shape, $0.data.map { Float($0) }) }
        let stacked = Executor(plan: compiled)
        let unstacked = Executor(plan: compiled, stackedOneDNN: false)
        #expect(stacked.oneDNNStackedConvolutions >= 6, "one per output of each group")
        #expect(unstacked.oneDNNStackedConvolutions == 0)
        let (a, b) = (try stacked.run(feeding: feeds), try unstacked.run(feeding: feeds))
        for (x, y) in zip(a, b) { #expect(relativeError(x, y.map(Double.init)) <= 1e-5) }
        #expect(try worstParityError(graph) <= 1e-5)
    }

    /// Merged convolutions (one x with filters w, u; one dy with filters along C) at
    /// channel counts oneDNN can address inside its blocks.
    @Test func mergedConvolutionsRunStackedOnOneDNN() throws {
        let b = GraphBuilder()
        let c = Conv2D(stride: 1, padding: 1)
        let x = b.input("x", shape: [3, 32, 8, 8])
        let w = b.input("w", shape: [32, 32, 3, 3]), u = b.input("u", shape: [48, 32, 3, 3])
        let dy = b.input("dy", shape: [3, 32, 8, 8])
        let v = b.input("v", shape: [32, 16, 3, 3])
        let dx = conv2dInputGrad(dy, w, c, inputShape: [3, 32, 8, 8])
        let dxv = conv2dInputGrad(dy, v, c, inputShape: [3, 16, 8, 8])
        let graph = b.finish([conv2d(x, w, c), conv2d(x, u, c), dx * 2, dxv])
        let compiled = plan(graph)
        #expect(ConvolutionMerge.mergedSteps(compiled) == 2)
        let feeds = randomFeeds(graph, seed: 6, range: ModelParity.range).mapValues { ($0.shape, $0.data.map { Float($0) }) }
        let stacked = Executor(plan: compiled)
        #expect(stacked.oneDNNStackedConvolutions == 2)
        let (a, r) = (try stacked.run(feeding: feeds), try Executor(plan: compiled, stackedOneDNN: false).run(feeding: feeds))
        for (x, y) in zip(a, r) { #expect(relativeError(x, y.map(Double.init)) <= 1e-5) }
        #expect(try worstParityError(graph) <= 1e-5)
    }

    /// `ConvolutionMerge.sumGraph` with more channels (and 2 images of 16×16).
    static func sumGraph(stride: Int, channels: Int) -> Graph {
        let b = GraphBuilder()
        let c = Conv2D(stride: stride, padding: 1)
        let xShape = [2, channels, 16, 16]
        let h = b.input("h", shape: xShape), hDot = b.input("hDot", shape: xShape), hDDot = b.input("hDDot", shape: xShape)
        let w = b.input("w", shape: [channels, channels, 3, 3]), u = b.input("u", shape: [channels, channels, 3, 3])
        let y = conv2d(h, w, c)
        let yDot = conv2d(hDot, w, c) + conv2d(h, u, c)
        let twice = conv2d(hDot, u, c)
        let yDDot = (conv2d(hDDot, w, c) + twice) + twice
        let g = b.input("g", shape: y.shape), gDot = b.input("gDot", shape: y.shape), gDDot = b.input("gDDot", shape: y.shape)
        let dh = conv2dInputGrad(g, w, c, inputShape: xShape) + conv2dInputGrad(gDot, u, c, inputShape: xShape)
        let dhDot = conv2dInputGrad(gDot, w, c, inputShape: xShape) - conv2dInputGrad(gDDot, u, c, inputShape: xShape)
        let dhDDot = conv2dInputGrad(gDDot, w, c, inputShape: xShape)
        return b.finish([y, yDot * 3, yDDot, dh, dhDot, dhDDot])
    }
}

/// The stacked filter needs no oneDNN, so it runs with RAT_ONEDNN=0 too.
@Suite struct StackedFilterLayout {
    /// The stacked filter: per part, the coefficient-weighted sum of its terms, row by row.
    @Test func stackedFilterSumsItsTermsPerPart() {
        let (rows, a, b) = (3, 2, 4)
        let w1 = (0..<rows * a).map { Float($0) }, w2 = (0..<rows * a).map { Float(100 + $0) }
        let w3 = (0..<rows * b).map { Float(-$0) }
        var out = [Float](repeating: .nan, count: rows * (a + b))
        w1.withUnsafeBufferPointer { p1 in w2.withUnsafeBufferPointer { p2 in w3.withUnsafeBufferPointer { p3 in
            let filter = StackedFilter(rows: rows, parts: [
                StackedFilter.Part(segment: a, terms: [(filter: p1.baseAddress!, coefficient: Float(2)),
                                                       (filter: p2.baseAddress!, coefficient: Float(-1))]),
                StackedFilter.Part(segment: b, terms: [(filter: p3.baseAddress!, coefficient: Float(1))]),
            ])
            #expect(filter.floats == out.count)
            out.withUnsafeMutableBufferPointer { filter.build(into: $0.baseAddress!) }
        } } }
        for row in 0..<rows {
            for i in 0..<a { #expect(out[row * (a + b) + i] == 2 * w1[row * a + i] - w2[row * a + i]) }
            for i in 0..<b { #expect(out[row * (a + b) + a + i] == w3[row * b + i]) }
        }
    }
}
