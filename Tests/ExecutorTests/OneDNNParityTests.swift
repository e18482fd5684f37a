import Kernels
import Testing

/// oneDNN's three convolutions on every convolution shape of the zoo (small-cnn, PreAct
/// ResNet-18 at 32×32; batch 2 instead of 128 to keep the Double oracle fast), blocked and
/// NCHW, against a Double-accumulating naive convolution. Float32 sums of up to 4608
/// products (512 channels × 3 × 3) measured ≤ 8e-7 relative L2 error; 1e-5 is the bound.
@Suite(.enabled(if: oneDNNEnabled, "RAT_ONEDNN=0 switches oneDNN off"))
struct OneDNNParity {
    static let shapes = zooConvolutionShapes(batch: 2).map(\.shape)

    @Test(arguments: shapes)
    func threeDirectionsMatchTheDoubleReference(_ s: ConvShape) throws {
        var x = FastKernelsMatchNaive.random(s.n * s.c * s.h * s.w, seed: 11)
        var w = FastKernelsMatchNaive.random(s.o * s.colRows, seed: 12)
        var dy = FastKernelsMatchNaive.random(s.n * s.o * s.outPlane, seed: 13)
        let reference = convolutionDoubleReference(s, x: x, w: w, dy: dy)
        for blocked in [true, false] {
            for direction in ConvolutionDirection.allCases {
                let primitive = try #require(OneDNNConvolution(s, direction, blocked: blocked), "\(s) \(direction)")
                let error = Self.relativeError(primitive, direction, s, x: &x, w: &w, dy: &dy, reference: reference)
                #expect(error < 1e-5, "\(s) \(direction) blocked \(blocked) (\(primitive.implementation)): \(error)")
            }
        }
    }

    /// The inputs are unchanged by a run (rat's tensors are read in place by the reorders).
    @Test func inputsAreLeftAsTheyWere() throws {
        let s = Self.shapes[4]
        let x0 = FastKernelsMatchNaive.random(s.n * s.c * s.h * s.w, seed: 14)
        let w0 = FastKernelsMatchNaive.random(s.o * s.colRows, seed: 15)
        var (x, w) = (x0, w0)
        var y = [Float](repeating: 0, count: s.n * s.o * s.outPlane)
        let primitive = try #require(OneDNNConvolution(s, .forward))
        let workspace = OneDNNWorkspace(bytes: primitive.workspaceBytes)
        primitive.run(x: &x, w: &w, y: &y, workspace: workspace.base)
        #expect(x == x0 && w == w0)
        #expect(y.contains { $0 != 0 })
    }
}

/// oneDNN's Winograd (the executor's choice for stride-1 3×3 with C ≥ 64) on the zoo's
/// stride-1 3×3 shapes against the Double reference: measured ≤ 2.3e-6 relative L2 at batch
/// 2 (its direct kernels: ≤ 8e-7), so 1e-5 leaves a 4× margin and still catches a wrong
/// transform (which errs by O(1)).
@Suite(.enabled(if: oneDNNEnabled, "RAT_ONEDNN=0 switches oneDNN off"))
struct OneDNNWinogradError {
    @Test(arguments: OneDNNParity.shapes.filter { $0.k == 3 && $0.stride == 1 })
    func withinTolerance(_ s: ConvShape) {
        for direction in ConvolutionDirection.allCases {
            guard let error = oneDNNError(s, direction, winograd: true) else { continue }  // declined
            #expect(error < 1e-5, "\(s) \(direction): \(error)")
        }
    }
}

extension OneDNNParity {
    /// Runs one direction of `primitive` into a poisoned output (every element must be written)
    /// and returns its relative L2 error against the Double reference of the same direction.
    static func relativeError(_ primitive: OneDNNConvolution, _ direction: ConvolutionDirection, _ s: ConvShape,
                              x: inout [Float], w: inout [Float], dy: inout [Float],
                              reference: (y: [Double], dx: [Double], dw: [Double])) -> Double {
        let workspace = OneDNNWorkspace(bytes: primitive.workspaceBytes)
        var out = [Float](repeating: .nan, count: [s.n * s.o * s.outPlane, s.n * s.c * s.inPlane,
                                                     s.o * s.colRows][Int(direction.rawValue)])
        switch direction {
        case .forward: primitive.run(x: &x, w: &w, y: &out, workspace: workspace.base)
        case .backwardData: primitive.run(x: &out, w: &w, y: &dy, workspace: workspace.base)
        case .backwardWeights: primitive.run(x: &x, w: &out, y: &dy, workspace: workspace.base)
        }
        return relativeL2Error(out, [reference.y, reference.dx, reference.dw][Int(direction.rawValue)])
    }
}
