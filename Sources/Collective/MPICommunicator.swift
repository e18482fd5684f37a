import CMPI
import Foundation

public struct MPIUnavailable: Error, CustomStringConvertible {
    public let description: String
}

/// Open MPI's communicator, over `CMPI` (libmpi loaded at run time). MPI is initialised once
/// per process, only when the process was started by an MPI launcher (`Launch.underMPI`), so
/// a plain `rat` never touches MPI. Immutable after creation; MPI runs with
/// MPI_THREAD_MULTIPLE, so it may also be used from the work dealer's thread.
public final class MPICommunicator: Communicator, @unchecked Sendable {
    private let comm: rat_mpi_comm_t
    public let rank: Int
    public let size: Int

    private init(comm: rat_mpi_comm_t) {
        self.comm = comm
        rank = Int(rat_mpi_rank(comm))
        size = Int(rat_mpi_size(comm))
    }

    /// Loads libmpi, initialises MPI (once per process) and returns MPI_COMM_WORLD.
    public static func world() throws(MPIUnavailable) -> MPICommunicator {
        var message = [CChar](repeating: 0, count: 512)
        guard rat_mpi_load(&message, message.count) == 0 else {
            throw MPIUnavailable(description: String(cString: message) + " (this process was started by an MPI launcher; "
                                 + "install Open MPI: apt-get install openmpi-bin libopenmpi-dev)")
        }
        _ = rat_mpi_init()
        return MPICommunicator(comm: rat_mpi_world())
    }

    /// Whether MPI runs with MPI_THREAD_MULTIPLE (the work dealer's thread needs it).
    public static var threadMultiple: Bool { rat_mpi_thread_multiple() != 0 }

    /// Ends MPI in this process; call once, after the last collective, on every rank.
    public static func finalize() { rat_mpi_finalize() }

    public func allReduceSum(_ values: inout [Float]) {
        let count = Int32(values.count)
        values.withUnsafeMutableBufferPointer { rat_mpi_allreduce_float_sum(comm, $0.baseAddress, count) }
    }

    public func allReduceSum(_ values: inout [Double]) {
        let count = Int32(values.count)
        values.withUnsafeMutableBufferPointer { rat_mpi_allreduce_double_sum(comm, $0.baseAddress, count) }
    }

    public func allReduceSum(_ values: UnsafeMutableBufferPointer<Float>) {
        precondition(values.count <= Int(Int32.max), "allReduceSum of \(values.count) values: MPI counts are Int32")
        rat_mpi_allreduce_float_sum(comm, values.baseAddress, Int32(values.count))
    }

    public func allReduceSum(_ values: UnsafeMutableBufferPointer<Double>) {
        precondition(values.count <= Int(Int32.max), "allReduceSum of \(values.count) values: MPI counts are Int32")
        rat_mpi_allreduce_double_sum(comm, values.baseAddress, Int32(values.count))
    }

    public func allReduceMax(_ value: Int) -> Int { Int(rat_mpi_allreduce_int64_max(comm, Int64(value))) }

    public func broadcast(_ bytes: inout [UInt8], from root: Int) {
        var count = Int64(bytes.count)
        rat_mpi_bcast_int64(comm, &count, Int32(root))
        if rank != root { bytes = [UInt8](repeating: 0, count: Int(count)) }
        // MPI counts are Int32: large payloads go in chunks.
        let chunk = 1 << 30
        bytes.withUnsafeMutableBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = min(chunk, raw.count - offset)
                rat_mpi_bcast_bytes(comm, raw.baseAddress! + offset, Int32(n), Int32(root))
                offset += n
            }
        }
    }

    public func barrier() { rat_mpi_barrier(comm) }

    public func split(color: Int, key: Int) -> any Communicator {
        MPICommunicator(comm: rat_mpi_split(comm, Int32(color), Int32(key)))
    }

    public func duplicate() -> any Communicator { MPICommunicator(comm: rat_mpi_dup(comm)) }

    public func send(_ value: Int, to destination: Int, tag: Int) {
        rat_mpi_send_int64(comm, Int64(value), Int32(destination), Int32(tag))
    }

    public func receive(from source: Int?, tag: Int) -> (value: Int, source: Int) {
        var from: Int32 = 0
        let value = rat_mpi_recv_int64(comm, Int32(source ?? -1), Int32(tag), &from)
        return (Int(value), Int(from))
    }

    public func abort(_ message: String, code: Int32) -> Never {
        FileHandle.standardError.write(Data((message + "\n").utf8))
        rat_mpi_abort(comm, code)
        exit(code)  // MPI_Abort does not return; this satisfies the type checker.
    }
}
