import Foundation
import Kernels  // cpuHasAVX2FMA

/// OpenBLAS reads its settings from the environment when it loads, before `main`: to set
/// them, the process re-executes itself once with them in its environment. A setting the
/// caller's environment already has is kept (so `OPENBLAS_CORETYPE=… rat …` overrides).
///   OPENBLAS_CORETYPE=Haswell     Debian's OpenBLAS picks its Cooperlake kernels on this
///                                 AVX-512 machine; Haswell's run the thin im2col gemms
///                                 faster (docs/performance.md). "auto" leaves its choice,
///                                 and so does a CPU without AVX2 + FMA (or not x86_64),
///                                 which cannot run Haswell's kernels.
///   OPENBLAS_THREAD_TIMEOUT=4     an idle BLAS thread spins (calling sched_yield) for
///                                 2^28 cycles (~0.1 s) by default before it sleeps; between
///                                 gemms our own loops (im2col, col2im, elementwise) need
///                                 every core, and in a `perf` profile of a trades step
///                                 the spinning took ~20 % of the samples. 2^4
///                                 cycles lets it sleep at once; waking it costs a futex per gemm.
///   OMP_WAIT_POLICY=PASSIVE       the same for oneDNN's OpenMP threads (libgomp), which
///                                 otherwise spin a while after each convolution while
///                                 rat's own loops and OpenBLAS's threads need the cores.
func reexecutingWithBLASSettings(coretype: String) throws {
    var wanted = ["OPENBLAS_THREAD_TIMEOUT": "4", "OMP_WAIT_POLICY": "PASSIVE"]
    if coretype != "auto" && (coretype != "Haswell" || cpuHasAVX2FMA) { wanted["OPENBLAS_CORETYPE"] = coretype }
    let environment = ProcessInfo.processInfo.environment
    let missing = wanted.filter { environment[$0.key] == nil }
    guard !missing.isEmpty else { return }
    for (name, value) in missing { setenv(name, value, 1) }
    let arguments = CommandLine.arguments.map { strdup($0) } + [nil]
    execv("/proc/self/exe", arguments)
    throw BLASEnvironmentError(description: "could not re-execute with the OpenBLAS settings \(missing): errno \(errno)")
}

struct BLASEnvironmentError: Error, CustomStringConvertible {
    var description: String
}
