import Dispatch
import CMachine
import COpenBLAS

/// Our own loops split work into `workerCount` ranges, one per core, and leave the rest to
/// OpenBLAS, which runs its threads only inside sgemm. The executor never calls sgemm while
/// a parallel loop of ours runs, so the two never oversubscribe the cores.
///
/// RAT_WORKERS when set (1…256; anything else stops the process with an error naming it),
/// else the CPUs this process may run on (affinity mask, cgroup CPU quota). Fixed for the
/// process: kernels keep per-worker scratch that the planner sizes with the same count
/// (`Planner.fusedWorkers` reads the same C function), and the executor checks they agree.
public let workerCount = Int(rat_worker_count())

/// Whether the CPU runs AVX2 and FMA (x86_64 only): the direct kernels then run their
/// AVX2 + FMA build, and `rat` selects OpenBLAS's Haswell kernels.
public let cpuHasAVX2FMA = rat_cpu_has_avx2_fma() != 0

/// Runs `body(range, worker)` over `count` items split into `workers` contiguous ranges, in
/// parallel when the work is large enough to pay for the hand-off (~a few µs).
@inline(__always)
public func parallelRanges(_ count: Int, minimumPerWorker: Int = 16_384, workers: Int = workerCount,
                           _ body: (Range<Int>, _ worker: Int) -> Void) {
    if workers <= 1 || count < 2 * minimumPerWorker {
        body(0..<count, 0)
        return
    }
    let chunk = (count / workers + 15) & ~15  // keep chunk starts 64-byte aligned
    withoutActuallyEscaping(body) { body in
        let shared = SharedBody(body: body)
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            let start = worker * chunk
            let end = worker == workers - 1 ? count : Swift.min(count, start + chunk)
            if start < end { shared.body(start..<end, worker) }
        }
    }
}

/// Lets the workers call one non-Sendable body. Safe because concurrentPerform returns only
/// after every worker has finished (the body never outlives the call), and the callers'
/// bodies write disjoint ranges selected by the range argument.
private struct SharedBody: @unchecked Sendable {
    let body: (Range<Int>, Int) -> Void
}

public func blasThreads() -> Int { Int(openblas_get_num_threads()) }

public func setBlasThreads(_ n: Int) { openblas_set_num_threads(Int32(n)) }
