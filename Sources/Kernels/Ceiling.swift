import CMachine
import Dispatch
import Foundation

// What the machine can do at best, for `rat bench` to measure against: the FMA limit of the
// CPU (a loop of independent FMAs on registers, at the widest vector width it runs) and,
// per convolution shape, the faster of OpenBLAS's sgemm of the same size and the best
// convolution kernel rat has for it.

/// The FMA limit, in GFLOP/s.
public struct FMALimit: Sendable {
    /// Floats per vector of the loop that ran: 16 (AVX-512F), 8 (AVX2 + FMA) or 4 (baseline).
    public var width: Int
    /// One core, from the thread's CPU time (so time the scheduler gives other processes
    /// does not count: on a shared machine this is still the core's limit).
    public var perCore: Double
    /// perCore × workers: the limit of the cores rat's loops run on.
    public var workers: Int
    public var total: Double { perCore * Double(workers) }
}

/// The best of `repeats` runs of the FMA loop on `workers` threads at once, each timed by its
/// own CPU time (CLOCK_THREAD_CPUTIME_ID). ~2·10⁹ FLOPs a run: tens of ms on one core.
public func measureFMALimit(workers: Int = workerCount, repeats: Int = 5) -> FMALimit {
    let width = Int(rat_fma_limit_width())
    let iterations = 2_000_000_000 / (32 * width)
    let flops = Double(2 * 16 * width * iterations)
    var best = 0.0
    for _ in 0..<repeats {
        let rates = ThreadRates(count: workers)
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            let start = threadCPUSeconds()
            let sink = rat_fma_limit_loop(Int32(width), iterations)
            let seconds = threadCPUSeconds() - start
            rates.set(worker, sink.isNaN ? 0 : flops / seconds * 1e-9)
        }
        // The slowest thread: a core the loop shared with another of its threads (hyper-threads)
        // runs each at about half.
        best = max(best, rates.values.min() ?? 0)
    }
    return FMALimit(width: width, perCore: best, workers: workers)
}

/// Seconds of CPU time this thread has run.
private func threadCPUSeconds() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) * 1e-9
}

/// One slot per worker, each written by its own worker only.
private final class ThreadRates: @unchecked Sendable {
    private let slots: UnsafeMutablePointer<Double>
    let count: Int
    init(count: Int) {
        self.count = count
        slots = .allocate(capacity: count)
        slots.initialize(repeating: 0, count: count)
    }
    deinit { slots.deallocate() }
    func set(_ worker: Int, _ value: Double) { slots[worker] = value }
    var values: [Double] { (0..<count).map { slots[$0] } }
}

/// The convolution ceiling of one shape: GFLOP/s of the forward by each kernel available,
/// all measured in one process (best of a few calls each, alternating).
public struct ConvolutionCeiling: Sendable {
    public var shape: ConvShape
    /// The batch-wide gemm of the forward (M = O, N = N·OH·OW, K = C·K·K), OpenBLAS.
    public var sgemm: Double
    /// rat's own forward as it runs it (im2col + sgemm blocks, or the direct kernels).
    public var rat: Double
    /// oneDNN's best forward (blocked or NCHW direct, or Winograd; reorders included), when
    /// available. Winograd's rate counts the direct FLOPs, so it may exceed the FMA limit.
    public var oneDNN: Double?
    public var best: Double { max(sgemm, rat, oneDNN ?? 0) }
}

public func measureConvolutionCeiling(_ s: ConvShape, repeats: Int = 3) -> ConvolutionCeiling {
    let (m, n, k) = (s.og, s.n * s.outPlane, s.colRows)
    let buffers = ConvolutionBuffers(s)
    defer { buffers.deallocate() }
    let gemmA = UnsafeMutablePointer<Float>.allocate(capacity: m * k)
    let gemmB = UnsafeMutablePointer<Float>.allocate(capacity: k * n)
    let gemmC = UnsafeMutablePointer<Float>.allocate(capacity: m * n)
    defer { gemmA.deallocate(); gemmB.deallocate(); gemmC.deallocate() }
    gemmA.initialize(repeating: 0.5, count: m * k)
    gemmB.initialize(repeating: 0.25, count: k * n)
    // oneDNN's blocked and NCHW direct kernels and its Winograd (where it accepts them).
    let oneDNN = !oneDNNEnabled ? [] : [OneDNNConvolution(s, .forward), OneDNNConvolution(s, .forward, blocked: false),
                                        OneDNNConvolution(s, .forward, winograd: true)].compactMap { $0 }
    let workspace = OneDNNWorkspace(bytes: oneDNN.map(\.workspaceBytes).max() ?? 0)
    var bodies: [() -> Void] = [
        { sgemm(gemmC, ldc: n, gemmA, lda: k, transposeA: false, gemmB, ldb: n, transposeB: false,
                m: m, n: n, k: k) },
        { conv2dForward(buffers.y, buffers.x, buffers.w, s, scratch: buffers.scratch) },
    ]
    for p in oneDNN { bodies.append { p.run(x: buffers.x, w: buffers.w, y: buffers.y, workspace: workspace.base) } }
    let seconds = bestSeconds(repeats: repeats, bodies)
    let flops = Double(s.flops) * 1e-9  // Winograd's too: its rate is the direct FLOPs over its time
    return ConvolutionCeiling(shape: s, sgemm: flops / Double(s.groups) / seconds[0], rat: flops / seconds[1],
                              oneDNN: oneDNN.isEmpty ? nil : flops / seconds[2...].min()!)
}

/// Best seconds of each body, run in turn `repeats` times after one warm-up call each.
func bestSeconds(repeats: Int, _ bodies: [() -> Void]) -> [Double] {
    for body in bodies { body() }
    var best = [Double](repeating: .infinity, count: bodies.count)
    for _ in 0..<repeats {
        for (i, body) in bodies.enumerated() {
            let start = DispatchTime.now().uptimeNanoseconds
            body()
            best[i] = min(best[i], Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9)
        }
    }
    return best
}
