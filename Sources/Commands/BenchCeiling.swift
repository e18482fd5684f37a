import Foundation
import Kernels

// `rat bench`'s ceilings: the FMA limit of the cores rat's loops run on, and per workload the
// throughput its convolutions would reach if each shape ran at the best rate measured for
// it (the faster of OpenBLAS's sgemm of that size and every convolution kernel rat has).

extension FMALimit {
    var text: String {
        let isa = [16: "AVX-512", 8: "AVX2 + FMA", 4: "baseline 4-float vectors"][width] ?? "\(width)-float vectors"
        return String(format: "FMA limit: %.1f GFLOP/s per core (%@, from the thread's CPU time) × %d workers = %.0f GFLOP/s; rat's C kernels run their %@ build",
                      perCore, isa, workers, total, kernelInstructions.rawValue)
    }
}

/// FLOPs of the workload's forward convolutions over the time they would take at each
/// shape's best measured rate, and which kernel was best for how many of the FLOPs.
func workloadCeiling(_ convolutions: [(shape: ConvShape, flops: Int)],
                     _ ceilings: [ConvShape: ConvolutionCeiling]) -> (gflops: Double, kernels: String) {
    var (flops, seconds) = (0.0, 0.0)
    var byKernel = [String: Double]()
    for (shape, f) in convolutions {
        guard let c = ceilings[shape] else { continue }
        flops += Double(f)
        seconds += Double(f) * 1e-9 / c.best
        let kernel = c.best == c.sgemm ? "sgemm" : c.best == c.rat ? "rat" : "oneDNN"
        byKernel[kernel, default: 0] += Double(f)
    }
    guard seconds > 0 else { return (.nan, "no convolutions") }
    let kernels = byKernel.sorted { $0.value > $1.value }
        .map { String(format: "%@ best for %.0f%%", $0.key, 100 * $0.value / flops) }.joined(separator: ", ")
    return (flops * 1e-9 / seconds, kernels)
}

/// `--onednn`: oneDNN against rat's kernels on the zoo's convolution shapes, side by side.
func printOneDNNTimings(batch: Int) {
    guard oneDNNEnabled else { return print("oneDNN is switched off (RAT_ONEDNN=0)") }
    print("model            shape (N C H W → O, K/stride/padding)  direction        rat ms  blocked ms  nchw ms  rat/best  winograd ms  error direct  error winograd  oneDNN's choice")
    for (model, s) in zooConvolutionShapes(batch: batch) {
        for t in oneDNNTimings(shapes: [s]) {
            let shape = "\(s.n)×\(s.c)×\(s.h)×\(s.w) → \(s.o), \(s.k)/\(s.stride)/\(s.padding)"
            let best = min(t.blockedMs ?? .infinity, t.plainMs ?? .infinity)
            print(String(format: "%@ %@ %@ %8.2f %11.2f %8.2f %8.2f× %12.2f %13.1e %15.1e  %@ / %@",
                         model.padding(toLength: 16, withPad: " ", startingAt: 0),
                         shape.padding(toLength: 37, withPad: " ", startingAt: 0),
                         "\(t.direction)".padding(toLength: 15, withPad: " ", startingAt: 0),
                         t.ratMs, t.blockedMs ?? .nan, t.plainMs ?? .nan, t.ratMs / best, t.winogradMs ?? .nan,
                         t.directError ?? .nan, t.winogradError ?? .nan,
                         t.blockedImplementation, t.plainImplementation))
            fflush(nil)  // all streams: `stdout` is a C global Swift 6 will not touch
        }
    }
}
