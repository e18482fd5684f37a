import Executor
import Graph
import Kernels
import Models
import Planner
import Testing

// `precision: bf16`: oneDNN's convolutions with bf16 inputs (rounded by the reorders from
// rat's f32 tensors), f32 accumulation and an f32 output, against the Double reference.
// bf16 keeps 8 significant bits (unit roundoff 2⁻⁸ ≈ 3.9e-3); rounding both inputs of sums of
// random-sign products gives a relative L2 error of a few 1e-3, independent of the sum's
// length. Measured 2026-12-02 (docs/performance.md, "BF16 (lever 3)"): see the bounds below.
// Each test also shows that bf16 really ran: the primitive reports bf16 inputs, and its error
// is far above f32's (≤ 8e-7 on the same shapes, OneDNNParity), which no f32 kernel reaches.

/// Whether this process can run oneDNN's bf16 convolutions natively.
let bf16Available = oneDNNEnabled && oneDNNBF16Native

@Suite(.enabled(if: bf16Available, "needs oneDNN (RAT_ONEDNN≠0) and a CPU with AVX512_BF16 or AMX"))
struct OneDNNBF16Parity {
    /// Relative L2 error bound of one bf16 convolution: measured 2.04e-3–2.21e-3 on every zoo
    /// shape and direction at batch 2 (plain and stacked, AMX and gemm kernels); 1e-2 leaves
    /// a 4.5× margin and still fails a wrong layout or a missed conversion (O(1) errors).
    static let tolerance = 1e-2
    /// An error below this means the inputs were not rounded to bf16 (f32 measures ≤ 8e-7).
    static let bf16Floor = 1e-4

    /// The executor's layouts: blocked for 3×3 kernels, NCHW activations for 1×1 (and also
    /// blocked 1×1, the other layout oneDNN offers).
    @Test(arguments: OneDNNParity.shapes)
    func threeDirectionsMatchTheDoubleReference(_ s: ConvShape) throws {
        var x = FastKernelsMatchNaive.random(s.n * s.c * s.h * s.w, seed: 41)
        var w = FastKernelsMatchNaive.random(s.o * s.colRows, seed: 42)
        var dy = FastKernelsMatchNaive.random(s.n * s.o * s.outPlane, seed: 43)
        let reference = convolutionDoubleReference(s, x: x, w: w, dy: dy)
        for blocked in s.k > 1 ? [true] : [false, true] {
            for direction in ConvolutionDirection.allCases {
                let primitive = try #require(OneDNNConvolution(s, direction, blocked: blocked, precision: .bf16),
                                             "\(s) \(direction): bf16 declined")
                #expect(primitive.precision == .bf16, "\(s) \(direction) (\(primitive.implementation))")
                #expect(!primitive.implementation.hasPrefix("ref"), "\(primitive.implementation)")
                let error = OneDNNParity.relativeError(primitive, direction, s, x: &x, w: &w, dy: &dy, reference: reference)
                #expect(error < Self.tolerance, "\(s) \(direction) blocked \(blocked) (\(primitive.implementation)): \(error)")
                #expect(error > Self.bf16Floor, "\(s) \(direction): error \(error) is f32's, not bf16's")
            }
        }
    }

    /// fp32 (the default) is untouched by the option: the same primitive reports f32. oneDNN
    /// 2.6 has no bf16 Winograd (the executor asks for its direct kernel in bf16 instead): a
    /// bf16 Winograd primitive is declined, not silently run in f32 or by a reference kernel.
    @Test func fp32StaysFP32AndThereIsNoBF16Winograd() throws {
        let s = OneDNNParity.shapes[4]
        #expect(s.k == 3 && s.stride == 1 && s.c >= 64)
        let primitive = try #require(OneDNNConvolution(s, .forward))
        #expect(primitive.precision == .fp32)
        for direction in ConvolutionDirection.allCases {
            let winograd = OneDNNConvolution(s, direction, winograd: true, precision: .bf16)
            #expect(winograd == nil, "\(direction): \(winograd?.implementation ?? "")")
        }
    }

    /// Stacked operands (the Taylor graphs' merged convolutions and groups) in bf16: each f32
    /// part is converted into its channel range of the bf16 copy.
    @Test(arguments: OneDNNStacking.cases.indices)
    func stackedForwardAndBackwardData(_ index: Int) throws {
        let (s, xChannels, yChannels, _) = OneDNNStacking.cases[index]
        let x = FastKernelsMatchNaive.random(s.n * s.c * s.h * s.w, seed: 51)
        let w = FastKernelsMatchNaive.random(s.o * s.colRows, seed: 52)
        let dy = FastKernelsMatchNaive.random(s.n * s.o * s.outPlane, seed: 53)
        let reference = convolutionDoubleReference(s, x: x, w: w, dy: dy)
        for direction in [ConvolutionDirection.forward, .backwardData] {
            guard let p = OneDNNConvolution(s, direction, xChannels: xChannels, yChannels: yChannels, precision: .bf16) else {
                // Only parts that do not fill 16-channel blocks may be declined (as in f32).
                #expect(xChannels.dropLast().contains { $0 % 16 != 0 } || yChannels.dropLast().contains { $0 % 16 != 0 },
                        "\(s) \(direction) \(xChannels) \(yChannels) declined")
                continue
            }
            #expect(p.precision == .bf16)
            let out: [Float], expected: [Double]
            if direction == .forward {
                let poisoned = yChannels.map { [Float](repeating: .nan, count: s.n * $0 * s.outPlane) }
                let result = OneDNNStacking.run(p, x: OneDNNStacking.split(x, images: s.n, channels: xChannels, plane: s.inPlane),
                                                w: w, y: poisoned)
                (out, expected) = (OneDNNStacking.join(result.y, images: s.n, channels: yChannels, plane: s.outPlane), reference.y)
            } else {
                let poisoned = xChannels.map { [Float](repeating: .nan, count: s.n * $0 * s.inPlane) }
                let result = OneDNNStacking.run(p, x: poisoned, w: w,
                                                y: OneDNNStacking.split(dy, images: s.n, channels: yChannels, plane: s.outPlane))
                (out, expected) = (OneDNNStacking.join(result.x, images: s.n, channels: xChannels, plane: s.inPlane), reference.dx)
            }
            let error = relativeL2Error(out, expected)
            #expect(error < Self.tolerance && error > Self.bf16Floor, "\(s) \(direction) (\(p.implementation)): \(error)")
        }
    }
}

/// The Taylor terms under bf16: logits, J·u and uᵀHu of the reduced small-cnn (ModelParity's
/// graph: jvp of jvp along the weight noise u) on the executor with `precision: .bf16`,
/// against the Double reference. The graph is forward-mode only, so every convolution with
/// C·K·K > 32 is a forward one and runs on oneDNN in bf16 (its first layer, C·K·K = 27, stays
/// on rat's f32 kernels). Measured over seeds 1–12
/// (2026-12-02), worst / median relative L2 error, train-mode BN | eval-mode BN:
///   logits 1.4e-3 / 6.3e-4 | 3.6e-3 / 1.8e-3;  J·u 5.3e-2 / 2.1e-2 | 2.9e-2 / 1.0e-2;
///   uᵀHu 1.1e-1 / 4.3e-2 | 4.8e-2 / 2.1e-2.
/// The tangents lose more than the logits: J·u and uᵀHu are sums of terms of both signs
/// (every layer's conv(x, u) and conv(dx, w)), so the per-convolution 2e-3 is amplified by
/// their cancellation, and train-mode BN (batch statistics of 3 images) amplifies it again.
/// The bounds are about 2× the worst measured: logits 1e-2, J·u 0.1, uᵀHu 0.25 (fp32 is
/// ≤ 1e-4 on the same graph, ModelParity). Whether training still reaches the fp32
/// accuracy with this is measured separately (docs/performance.md).
@Suite(.enabled(if: bf16Available, "needs oneDNN (RAT_ONEDNN≠0) and a CPU with AVX512_BF16 or AMX"))
struct BF16TaylorTerms {
    /// Per output (logits, J·u, J·u again, uᵀHu): the relative L2 error of the bf16 executor.
    static func errors(_ mode: NormalizationMode, seed: UInt64) throws -> (errors: [Double], executor: Executor) {
        let graph = ModelParity.taylorGraph(ModelParity.forward(mode))
        let feeds = randomFeeds(graph, seed: seed, range: ModelParity.range)
        let reference = try evaluateReference(graph, inputs: feeds)
        let executor = Executor(plan: plan(graph), precision: .bf16)
        let fast = try executor.run(feeding: feeds.mapValues { ($0.shape, $0.data.map { Float($0) }) })
        return (zip(fast, reference).map { relativeError($0, $1.data) }, executor)
    }

    @Test(arguments: [NormalizationMode.train, .eval])
    func logitsJuAndUHuWithinTolerance(_ mode: NormalizationMode) throws {
        for seed: UInt64 in 1...12 {
            let (errors, executor) = try Self.errors(mode, seed: seed)
            #expect(executor.oneDNNBF16Primitives > 0 && executor.oneDNNBF16Primitives == executor.oneDNNPrimitives,
                    "\(executor.oneDNNBF16Primitives) of \(executor.oneDNNPrimitives) primitives in bf16")
            #expect(errors.count == 4)
            for (name, error, bound) in zip3(["logits", "J·u", "J·u", "uᵀHu"], errors, [1e-2, 0.1, 0.1, 0.25]) {
                #expect(error < bound, "\(mode) seed \(seed) \(name): \(error)")
            }
            // bf16 really ran: f32's error on this graph is ≤ 1e-4.
            #expect(errors[1] > 1e-4, "\(mode) seed \(seed): J·u error \(errors[1]) is f32's")
        }
    }
}

/// A training graph (the Taylor terms differentiated in the parameters: ModelParity's
/// reverse over forward over forward) under bf16: only its forward convolutions run bf16
/// (`bf16Directions`); the backward ones keep f32 on oneDNN. Worst relative L2 error of the
/// parameter gradients against the Double reference, seeds 1–8 (2026-12-02): 0.028–0.150,
/// median 0.069 — the Taylor terms' error (above) carried into their gradients; bound 0.3
/// (fp32: ≤ 1e-4, ModelParity).
@Suite(.enabled(if: bf16Available, "needs oneDNN (RAT_ONEDNN≠0) and a CPU with AVX512_BF16 or AMX"))
struct BF16TrainingGraph {
    @Test func onlyForwardConvolutionsRunBF16() throws {
        let graph = ModelParity.taylorGradientGraph(ModelParity.forward(.train))
        let executor = Executor(plan: plan(graph), precision: .bf16)
        #expect(executor.oneDNNBF16Primitives > 0 && executor.oneDNNBF16Primitives < executor.oneDNNPrimitives,
                "\(executor.oneDNNBF16Primitives) of \(executor.oneDNNPrimitives) primitives in bf16")
        #expect(Executor(plan: plan(graph)).oneDNNBF16Primitives == 0)
        for seed: UInt64 in 1...8 {
            let feeds = randomFeeds(graph, seed: seed, range: ModelParity.range)
            let reference = try evaluateReference(graph, inputs: feeds)
            let fast = try executor.run(feeding: feeds.mapValues { ($0.shape, $0.data.map { Float($0) }) })
            let worst = zip(fast, reference).map { relativeError($0, $1.data) }.max() ?? .infinity
            #expect(worst < 0.3, "seed \(seed): parameter gradients' relative error \(worst)")
        }
    }
}

private func zip3<A, B, C>(_ a: [A], _ b: [B], _ c: [C]) -> [(A, B, C)] {
    zip(a, zip(b, c)).map { ($0, $1.0, $1.1) }
}
