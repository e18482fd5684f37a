import Collective
import Foundation

extension Trainer {
    /// Replaces every rank's state with `root`'s: weights, BN buffers, momentum and the
    /// position in the data. Rank 0 alone reads a resumed checkpoint, so the ranks need no
    /// shared file system for it and a checkpoint written with any N resumes with any other.
    func shareState(from root: Int) {
        let communicator = parallel.communicator
        var bytes = [UInt8]()
        if communicator.rank == root {
            for group in [state.parameters, state.buffers, state.momentum] {
                for name in group.keys.sorted() { group[name]!.withUnsafeBytes { bytes.append(contentsOf: $0) } }
            }
            for position in [state.epoch, state.batch, state.step] {
                withUnsafeBytes(of: Int64(position)) { bytes.append(contentsOf: $0) }
            }
            withUnsafeBytes(of: state.bestMetric) { bytes.append(contentsOf: $0) }
        }
        communicator.broadcast(&bytes, from: root)
        guard communicator.rank != root else { return }
        bytes.withUnsafeBytes { raw in
            var offset = 0
            func read(into values: inout [Float]) {
                let count = values.count * MemoryLayout<Float>.stride
                values.withUnsafeMutableBytes { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[offset..<offset + count])) }
                offset += count
            }
            func readInt() -> Int {
                defer { offset += 8 }
                return Int(raw.loadUnaligned(fromByteOffset: offset, as: Int64.self))
            }
            // Same model on every rank, so the same names and sizes in the same order.
            for name in state.parameters.keys.sorted() { read(into: &state.parameters[name]!) }
            for name in state.buffers.keys.sorted() { read(into: &state.buffers[name]!) }
            for name in state.momentum.keys.sorted() { read(into: &state.momentum[name]!) }
            state.epoch = readInt()
            state.batch = readInt()
            state.step = readInt()
            state.bestMetric = raw.loadUnaligned(fromByteOffset: offset, as: Double.self)
            precondition(offset + 8 == raw.count, "shareState: rank \(communicator.rank) read \(offset + 8) of \(raw.count) bytes")
        }
    }

    /// Compares a fingerprint of every rank's weights, BN buffers and momentum with rank 0's;
    /// throws on every rank, naming the ranks that differ, if any does.
    func compareWeightsAcrossRanks() throws {
        let communicator = parallel.communicator
        let mine = fingerprint(state)
        var rootPrint = withUnsafeBytes(of: mine) { Array($0) }
        communicator.broadcast(&rootPrint, from: 0)
        let differs = rootPrint.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) } != mine
        let differing = communicator.allGather(differs ? 1 : 0).enumerated().filter { $0.element != 0 }.map { $0.offset }
        if !differing.isEmpty {
            throw TrainingError("after epoch \(state.epoch + 1) the weights of rank(s) \(differing.map(String.init).joined(separator: ", ")) "
                                + "differ from rank 0's: the ranks no longer train the same model (a bug, or different "
                                + "binaries or libraries on the nodes); stopping. The last checkpoint is that of the previous epoch.")
        }
    }
}
