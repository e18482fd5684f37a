import Foundation
import Kernels
import Planner
import Testing

/// The worker count is the process's: RAT_WORKERS, else the CPUs it may run on. The
/// parity suites run under RAT_WORKERS=1 and =3 too (scripts/test.sh), so the kernels'
/// per-worker scratch and splits are checked against the references with 1, 2 and 3 workers.
@Suite struct WorkerCount {
    @Test func followsTheEnvironmentAndAgreesWithThePlanner() {
        if let text = ProcessInfo.processInfo.environment["RAT_WORKERS"] {
            #expect(workerCount == Int(text), "RAT_WORKERS=\(text) but \(workerCount) workers")
        } else {
            #expect(workerCount >= 1 && workerCount <= ProcessInfo.processInfo.processorCount)
        }
        #expect(fusedWorkers == workerCount)
        if ProcessInfo.processInfo.environment["RAT_PORTABLE_KERNELS"] != nil { #expect(kernelInstructions == .baseline) }
        #if !arch(x86_64)
        #expect(!cpuHasAVX2FMA)
        #endif
    }

    /// Every item exactly once, each worker's range contiguous and starting 16-aligned.
    @Test(arguments: [1, 2, 3, 5])
    func parallelRangesCoverEveryItemOnce(workers: Int) {
        for count in [0, 1, 40, 100, 33_000, 100_003] {
            let seen = UnsafeMutableBufferPointer<Int32>.allocate(capacity: max(count, 1))
            defer { seen.deallocate() }
            seen.initialize(repeating: 0)
            // Per worker: calls, and the start of its range (written by that worker only).
            let (calls, starts) = (UnsafeMutableBufferPointer<Int>.allocate(capacity: workers),
                                   UnsafeMutableBufferPointer<Int>.allocate(capacity: workers))
            defer { calls.deallocate(); starts.deallocate() }
            calls.initialize(repeating: 0)
            starts.initialize(repeating: 0)
            parallelRanges(count, minimumPerWorker: 8, workers: workers) { range, worker in
                precondition(worker < workers, "worker \(worker) of \(workers)")
                calls[worker] += 1
                starts[worker] = range.lowerBound
                for i in range { seen[i] += 1 }
            }
            #expect(seen.prefix(count).allSatisfy { $0 == 1 }, "\(workers) workers, \(count) items")
            #expect(calls.allSatisfy { $0 <= 1 })
            #expect(starts.allSatisfy { $0 % 16 == 0 })
            if count >= 1_000 { #expect(calls.reduce(0, +) == workers, "\(count) items should use all \(workers) workers") }
        }
    }
}
