import Collective
import Executor
import Foundation
import Graph
import Objectives
import Synchronization

/// Data-parallel training over a group of ranks: the recipe's global batch is split into
/// equal consecutive shares (rank r holds rows r·n..<(r+1)·n, n = batch / ranks), every rank
/// runs the whole step on its share, and the step's gradients are averaged over the ranks
/// with one all-reduce of one fused buffer before the update. Every loss term is a mean over
/// the batch, so the average of the ranks' means is the global batch's mean: every rank then
/// applies the same update and keeps the same weights.
public struct DataParallel {
    public let communicator: any Communicator
    /// The recipe's schedule.batch, and each rank's share of it.
    public let globalBatch: Int
    public let localBatch: Int

    /// Throws, naming `schedule.batch`, when the batch does not divide among the ranks.
    public init(communicator: any Communicator, globalBatch: Int, location: String) throws {
        guard globalBatch % communicator.size == 0 else {
            throw TrainingError("\(location): schedule.batch (\(globalBatch)) does not divide among \(communicator.size) ranks: "
                                + "use a multiple of \(communicator.size), or another number of ranks")
        }
        self.communicator = communicator
        self.globalBatch = globalBatch
        localBatch = globalBatch / communicator.size
    }

    public var firstRow: Int { communicator.rank * localBatch }
    public var ranks: Int { communicator.size }
    /// Whether the ranks hold different rows and so must average what the step computes.
    public var splitsBatch: Bool { ranks > 1 }

    /// The in-graph all-reduce of synchronised BatchNorm (`distributed.sync_bn`) over these
    /// ranks; nil for one rank, whose graphs have none.
    var batchNormReduction: CommunicatorReduction? {
        ranks > 1 ? CommunicatorReduction(communicator) : nil
    }

    /// This rank's rows of a global batch: images [globalBatch, D] → [localBatch, D].
    public func share(images: [Float], labels: [Int32]) -> (images: [Float], labels: [Int32]) {
        guard splitsBatch else { return (images, labels) }
        let d = images.count / globalBatch
        return (Array(images[firstRow * d..<(firstRow + localBatch) * d]), Array(labels[firstRow..<firstRow + localBatch]))
    }

    /// Averages `values` over the ranks in place (one all-reduce).
    public func average(_ values: inout [Float]) {
        guard splitsBatch else { return }
        communicator.allReduceSum(&values)
        let scale = 1 / Float(ranks)
        for i in values.indices { values[i] *= scale }
    }
}

/// A communicator as the executors' `CrossRankReduction`: each `crossRankSum` step of a
/// synchronised-BN graph is one MPI all-reduce of a slice of the executor's arena, in place.
/// Every rank runs the same graphs in the same order, so the ranks' all-reduces pair up.
/// Sendable: the communicator is immutable and the two counters (what the cost model in
/// docs/distributed.md reads) are atomics.
final class CommunicatorReduction: CrossRankReduction {
    let communicator: any Communicator
    /// All-reduces made, and wall nanoseconds inside them (transfer and waiting for the other ranks).
    let calls = Atomic<Int>(0)
    let nanoseconds = Atomic<UInt64>(0)

    init(_ communicator: any Communicator) { self.communicator = communicator }
    var ranks: Int { communicator.size }

    func sum(_ values: UnsafeMutableBufferPointer<Float>) {
        let start = DispatchTime.now().uptimeNanoseconds
        communicator.allReduceSum(values)
        record(since: start)
    }

    func sum(_ values: UnsafeMutableBufferPointer<Double>) {
        let start = DispatchTime.now().uptimeNanoseconds
        communicator.allReduceSum(values)
        record(since: start)
    }

    private func record(since start: UInt64) {
        calls.add(1, ordering: .relaxed)
        nanoseconds.add(DispatchTime.now().uptimeNanoseconds - start, ordering: .relaxed)
    }
}

/// One step's outputs that the ranks average, packed into one buffer (Horovod's tensor
/// fusion): every parameter's gradient, every BN layer's batch mean and variance (so that
/// the running statistics stay identical on every rank: their update is linear, so this
/// equals averaging them before each checkpoint), then the loss terms and the total.
struct FusedStepOutputs {
    var values: [Float]
    let gradients: [Range<Int>]
    let statistics: [Range<Int>]   // (mean, variance) per BN layer, interleaved
    let terms: Range<Int>
    var total: Double { Double(values[terms.upperBound]) }

    init(loss: any CompiledGraph, training: TrainingGraph) {
        var values = [Float]()
        func append(_ output: Int) -> Range<Int> {
            let start = values.count
            values.append(contentsOf: loss.output(output))
            return start..<values.count
        }
        gradients = training.parameters.indices.map { append(training.layout.gradients.lowerBound + $0) }
        statistics = (0..<2 * training.statistics.count).map { append(training.layout.statistics.lowerBound + $0) }
        let start = values.count
        for k in training.terms.indices { values.append(loss.output(training.layout.terms.lowerBound + k)[0]) }
        terms = start..<values.count
        values.append(loss.output(training.layout.total)[0])
        self.values = values
    }

    func term(_ k: Int) -> Double { Double(values[terms.lowerBound + k]) }
}

/// The weights' fingerprint compared across ranks every epoch (FNV-1a over the bytes of
/// every parameter, buffer and momentum, in name order).
func fingerprint(_ state: TrainState) -> UInt64 {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for group in [state.parameters, state.buffers, state.momentum] {
        for name in group.keys.sorted() {
            for byte in name.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
            group[name]!.withUnsafeBytes { bytes in
                for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
            }
        }
    }
    return hash
}
