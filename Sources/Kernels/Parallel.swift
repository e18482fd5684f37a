import Dispatch
import COpenBLAS

/// The machine has two cores; our own loops split work in two and leave the rest to
/// OpenBLAS, which runs its threads only inside sgemm. The executor never calls sgemm while
/// a parallel loop of ours runs, so the two never oversubscribe the cores.
public let workerCount = 2

/// Runs `body(range)` over `count` items split into `workerCount` contiguous ranges, in
/// parallel when the work is large enough to pay for the hand-off (~a few µs).
@inline(__always)
public func parallelRanges(_ count: Int, minimumPerWorker: Int = 16_384, _ body: (Range<Int>, _ worker: Int) -> Void) {
    if count < 2 * minimumPerWorker {
        body(0..<count, 0)
        return
    }
    let half = (count / workerCount + 15) & ~15  // keep chunk starts 64-byte aligned
    withoutActuallyEscaping(body) { body in
        let shared = SharedBody(body: body)
        DispatchQueue.concurrentPerform(iterations: workerCount) { worker in
            let start = worker * half
            let end = worker == workerCount - 1 ? count : Swift.min(count, start + half)
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
