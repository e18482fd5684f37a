import Kernels
import Testing

/// oneDNN's three convolutions on every convolution shape of the zoo (small-cnn, PreAct
/// ResNet-18 at 32×32; batch 2 instead of 128 to keep the Double oracle fast), blocked and
/// NCHW, against a Double-accumulating naive convolution. Float32 sums of up to 4608
/// products (512 channels × 3 × 3) stay within 1e-5 of the largest output.
@Suite(.enabled(if: oneDNNEnabled, "RAT_ONEDNN=0 switches oneDNN off"))
struct OneDNNParity {
    static let shapes = zooConvolutionShapes(batch: 2).map(\.shape)

    @Test(arguments: shapes)
    func threeDirectionsMatchTheDoubleReference(_ s: ConvShape) throws {
        var x = FastKernelsMatchNaive.random(s.n * s.c * s.h * s.w, seed: 11)
        var w = FastKernelsMatchNaive.random(s.o * s.colRows, seed: 12)
        var dy = FastKernelsMatchNaive.random(s.n * s.o * s.outPlane, seed: 13)
        let reference = DoubleConvolution(s, x: x, w: w, dy: dy)
        for blocked in [true, false] {
            for direction in ConvolutionDirection.allCases {
                let primitive = try #require(OneDNNConvolution(s, direction, blocked: blocked), "\(s) \(direction)")
                let workspace = OneDNNWorkspace(bytes: primitive.workspaceBytes)
                // Poisoned outputs: every element must be written.
                var out = [Float](repeating: .nan, count: [s.n * s.o * s.outPlane, s.n * s.c * s.inPlane,
                                                             s.o * s.colRows][Int(direction.rawValue)])
                switch direction {
                case .forward: primitive.run(x: &x, w: &w, y: &out, workspace: workspace.base)
                case .backwardData: primitive.run(x: &out, w: &w, y: &dy, workspace: workspace.base)
                case .backwardWeights: primitive.run(x: &x, w: &out, y: &dy, workspace: workspace.base)
                }
                let expected = [reference.y, reference.dx, reference.dw][Int(direction.rawValue)]
                let error = relativeError(out, expected)
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

/// The forward and both gradients of one convolution (groups 1), accumulated in Double.
struct DoubleConvolution {
    var y, dx, dw: [Double]

    init(_ s: ConvShape, x: [Float], w: [Float], dy: [Float]) {
        (y, dx, dw) = ([Double](repeating: 0, count: dy.count), [Double](repeating: 0, count: x.count),
                       [Double](repeating: 0, count: w.count))
        for b in 0..<s.n {
            for o in 0..<s.o {
                for c in 0..<s.c {
                    for ky in 0..<s.k {
                        for kx in 0..<s.k {
                            let wi = ((o * s.c + c) * s.k + ky) * s.k + kx
                            for oy in 0..<s.oh {
                                let iy = oy * s.stride - s.padding + ky
                                guard iy >= 0 && iy < s.h else { continue }
                                for ox in 0..<s.ow {
                                    let ix = ox * s.stride - s.padding + kx
                                    guard ix >= 0 && ix < s.w else { continue }
                                    let xi = ((b * s.c + c) * s.h + iy) * s.w + ix
                                    let yi = ((b * s.o + o) * s.oh + oy) * s.ow + ox
                                    y[yi] += Double(x[xi]) * Double(w[wi])
                                    dx[xi] += Double(dy[yi]) * Double(w[wi])
                                    dw[wi] += Double(x[xi]) * Double(dy[yi])
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
