import COneDNN
import Foundation

// oneDNN's convolutions (Debian's libdnnl 2.6) behind rat's kernel interface: a primitive
// per shape and direction, created once when a graph is compiled, with its reorders; its
// blocked-layout copies (nChw16c on AVX-512, as oneDNN picks) and scratchpad live in a
// workspace allocated once by its owner and shared by primitives that never run at once, so
// running it allocates nothing. rat's tensors stay NCHW / OIHW: each run reorders its
// inputs into the blocked copies and its output back. The naive kernels stay the oracle (OneDNNParityTests).

/// Whether oneDNN may run convolutions in this process: unless RAT_ONEDNN=0 (so parity
/// and speed can be compared with rat's own kernels in the same build).
public let oneDNNEnabled: Bool = {
    guard ProcessInfo.processInfo.environment["RAT_ONEDNN"] != "0" else { return false }
    // oneDNN 2.6 from Debian runs its parallel regions with OpenMP: as many threads as
    // rat's own loops have workers, so the two never ask for more cores than there are.
    rat_onednn_set_threads(Int32(workerCount))
    return true
}()

/// The number format of the inputs of the convolutions oneDNN runs (recipe key `precision`).
/// `bf16`: a primitive's two inputs are rounded to bfloat16 (8-bit mantissa) by the reorders
/// into oneDNN's copies, its products accumulate in f32 and its output is f32; rat's tensors,
/// master weights and every other kernel stay f32. (The executor uses it for forward
/// convolutions only: `bf16Directions`.) Tolerances measured against the Double reference:
/// docs/performance.md, "BF16 (lever 3)".
public enum Precision: String, Sendable, CaseIterable {
    case fp32, bf16
}

/// Whether oneDNN runs bf16 natively on this CPU (AVX512_BF16 or AMX): without it a
/// `precision: bf16` run would be emulated or refused, and rat warns.
public let oneDNNBF16Native: Bool = rat_onednn_bf16_native() != 0

/// One of a convolution's three directions.
public enum ConvolutionDirection: Int32, Sendable, CaseIterable {
    case forward = 0, backwardData = 1, backwardWeights = 2
}

/// A oneDNN primitive for one shape and direction. Not for concurrent runs: its blocked
/// copies are shared by every run.
public final class OneDNNConvolution: @unchecked Sendable {
    public let shape: ConvShape
    public let direction: ConvolutionDirection
    /// The precision it runs in: bf16 only when asked for and oneDNN accepted it.
    public let precision: Precision
    private let handle: OpaquePointer

    /// Nil when oneDNN does not run this convolution (groups, or an error it reports, in
    /// `reason`); the caller then keeps rat's own kernels.
    /// `winograd`: oneDNN's Winograd algorithm instead of direct (stride-1 3×3 only; nil
    /// where oneDNN declines it). `precision: .bf16`: bf16 inputs, f32 output (nil where
    /// oneDNN declines it or has only its reference kernel; it has no bf16 Winograd).
    public convenience init?(_ s: ConvShape, _ direction: ConvolutionDirection, blocked: Bool = true, winograd: Bool = false,
                             precision: Precision = .fp32) {
        self.init(s, direction, xChannels: [s.c], yChannels: [s.o], blocked: blocked, winograd: winograd, precision: precision)
    }

    /// A primitive on channel-stacked operands (forward or backward data): x's C channels
    /// are held by NCHW tensors of `xChannels` channels each, in order, and y's O channels
    /// by tensors of `yChannels` (see `run(x:w:y:workspace:)`). Nil where oneDNN cannot
    /// address a part inside its layout (blocked: every part but the last must fill whole
    /// 16-channel blocks) or declines the shape.
    public init?(_ s: ConvShape, _ direction: ConvolutionDirection, xChannels: [Int], yChannels: [Int],
                 blocked: Bool = true, winograd: Bool = false, precision: Precision = .fp32) {
        guard s.groups == 1, xChannels.reduce(0, +) == s.c, yChannels.reduce(0, +) == s.o,
              direction != .backwardWeights || (xChannels.count == 1 && yChannels.count == 1) else { return nil }
        var problem = rat_onednn_shape(n: s.n, c: s.c, h: s.h, w: s.w, o: s.o, k: s.k, stride: s.stride,
                                       padding: s.padding)
        var error = [CChar](repeating: 0, count: 256)
        let created = xChannels.withUnsafeBufferPointer { x in
            yChannels.withUnsafeBufferPointer { y in
                rat_onednn_create_stacked(&problem, Int32(direction.rawValue), blocked ? 1 : 0, winograd ? 1 : 0,
                                          precision == .bf16 ? 1 : 0, x.count, x.baseAddress, y.count, y.baseAddress, &error, 256)
            }
        }
        guard let handle = created else { return nil }
        (self.shape, self.direction, self.handle) = (s, direction, handle)
        self.precision = rat_onednn_is_bf16(handle) != 0 ? .bf16 : .fp32
        (self.xParts, self.yParts) = (xChannels.count, yChannels.count)
    }

    /// How many tensors hold x and y (1 unless stacked).
    public private(set) var xParts = 1, yParts = 1

    deinit { rat_onednn_destroy(handle) }

    /// forward: y ← x ⊛ w; backwardData: x ← ∂/∂x given y = dy and w; backwardWeights:
    /// w ← ∂/∂w given x and y = dy. x [N,C,H,W], w [O,C,K,K], y [N,O,OH,OW].
    /// `workspace`: `workspaceBytes`, 64-byte aligned, scratch (not kept between runs).
    public func run(x: UnsafeMutablePointer<Float>, w: UnsafeMutablePointer<Float>, y: UnsafeMutablePointer<Float>,
                    workspace: UnsafeMutableRawPointer) {
        rat_onednn_run(handle, x, w, y, workspace)
    }

    /// Stacked operands: `x` holds `xParts` pointers, `y` `yParts`, in channel order
    /// (forward reads every x part and writes every y part; backward data the reverse).
    public func run(x: UnsafePointer<UnsafeMutablePointer<Float>>, w: UnsafeMutablePointer<Float>,
                    y: UnsafePointer<UnsafeMutablePointer<Float>>, workspace: UnsafeMutableRawPointer) {
        x.withMemoryRebound(to: UnsafeMutablePointer<Float>?.self, capacity: xParts) { x in
            y.withMemoryRebound(to: UnsafeMutablePointer<Float>?.self, capacity: yParts) { y in
                rat_onednn_run_stacked(handle, x, w, y, workspace)
            }
        }
    }

    /// oneDNN's name for the implementation it chose, e.g. "jit:avx512_core".
    public var implementation: String { String(cString: rat_onednn_implementation(handle)) }

    /// Bytes of workspace a run needs: the blocked copies and the scratchpad.
    public var workspaceBytes: Int { rat_onednn_workspace_bytes(handle) }
}

/// A 64-byte aligned workspace for oneDNN primitives, allocated (and its pages touched) once.
public final class OneDNNWorkspace: @unchecked Sendable {
    public let bytes: Int
    public let base: UnsafeMutableRawPointer

    public init(bytes: Int) {
        self.bytes = max(bytes, 64)
        base = .allocate(byteCount: self.bytes, alignment: 64)
        base.initializeMemory(as: UInt8.self, repeating: 0, count: self.bytes)
    }

    deinit { base.deallocate() }
}

extension ConvShape {
    /// Whether the executor gives this direction of this convolution to oneDNN (when it is
    /// enabled and accepts the shape). Measured side by side by `rat bench --onednn` on every
    /// zoo shape (docs/performance.md, 2026-12-02): oneDNN ran every direction of every
    /// shape with C·K·K > 32 faster than im2col + OpenBLAS, 1.06–2.8× with blocked layouts
    /// for the 3×3 kernels and 1.08–2.7× with NCHW activations for the 1×1 shortcuts (the
    /// executor's choice, `substitutingOneDNN`); on the RGB first layers (C·K·K = 27) rat's
    /// direct kernels were faster in 4 of 6 shape-directions (0.32–1.22×), so those stay rat's.
    public func runsOnOneDNN(_ direction: ConvolutionDirection) -> Bool {
        oneDNNEnabled && groups == 1 && colRows > 32
    }
}
