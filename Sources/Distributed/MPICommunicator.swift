import CMPI
import Foundation

/// Open MPI's communicator. `MPI_Init_thread` runs once per process, only when the process
/// was started by an MPI launcher (`Launch.underMPI`), so a plain `rat` never touches MPI.
/// Immutable after creation; MPI is initialised with `MPI_THREAD_MULTIPLE`, so it may be used
/// from the work dealer's thread too.
public final class MPICommunicator: Communicator, @unchecked Sendable {
    private let comm: MPI_Comm
    public let rank: Int
    public let size: Int

    private init(comm: MPI_Comm) {
        self.comm = comm
        var r: Int32 = 0, s: Int32 = 0
        MPI_Comm_rank(comm, &r)
        MPI_Comm_size(comm, &s)
        (rank, size) = (Int(r), Int(s))
    }

    /// Initialises MPI (once per process) and returns MPI_COMM_WORLD. A thread level below
    /// MPI_THREAD_MULTIPLE is accepted: only the work dealer needs it, and checks it.
    public static func world() -> MPICommunicator {
        var initialised: Int32 = 0
        MPI_Initialized(&initialised)
        if initialised == 0 {
            var provided: Int32 = 0
            MPI_Init_thread(nil, nil, rat_mpi_thread_multiple(), &provided)
        }
        return MPICommunicator(comm: rat_mpi_comm_world())
    }

    /// Whether MPI runs with MPI_THREAD_MULTIPLE (the work dealer's thread needs it).
    public static var threadMultiple: Bool {
        var level: Int32 = 0
        MPI_Query_thread(&level)
        return level >= rat_mpi_thread_multiple()
    }

    /// Ends MPI in this process; call once, after the last collective, on every rank.
    public static func finalize() {
        var finalized: Int32 = 0
        MPI_Finalized(&finalized)
        if finalized == 0 { MPI_Finalize() }
    }

    public func allReduceSum(_ values: inout [Float]) {
        let count = Int32(values.count)
        values.withUnsafeMutableBufferPointer { MPI_Allreduce(rat_mpi_in_place(), $0.baseAddress, count, rat_mpi_float(), rat_mpi_sum(), comm) }
    }

    public func allReduceSum(_ values: inout [Double]) {
        let count = Int32(values.count)
        values.withUnsafeMutableBufferPointer { MPI_Allreduce(rat_mpi_in_place(), $0.baseAddress, count, rat_mpi_double(), rat_mpi_sum(), comm) }
    }

    public func allReduceMax(_ value: Int) -> Int {
        var local = Int64(value), result: Int64 = 0
        MPI_Allreduce(&local, &result, 1, rat_mpi_int64(), rat_mpi_max(), comm)
        return Int(result)
    }

    public func broadcast(_ bytes: inout [UInt8], from root: Int) {
        var count = Int64(bytes.count)
        MPI_Bcast(&count, 1, rat_mpi_int64(), Int32(root), comm)
        if rank != root { bytes = [UInt8](repeating: 0, count: Int(count)) }
        // MPI counts are Int32: large payloads go in chunks.
        let chunk = 1 << 30
        bytes.withUnsafeMutableBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = min(chunk, raw.count - offset)
                MPI_Bcast(raw.baseAddress! + offset, Int32(n), rat_mpi_byte(), Int32(root), comm)
                offset += n
            }
        }
    }

    public func barrier() { MPI_Barrier(comm) }

    public func split(color: Int, key: Int) -> any Communicator {
        var group = rat_mpi_comm_null()
        MPI_Comm_split(comm, Int32(color), Int32(key), &group)
        return MPICommunicator(comm: group!)
    }

    public func duplicate() -> any Communicator {
        var copy = rat_mpi_comm_null()
        MPI_Comm_dup(comm, &copy)
        return MPICommunicator(comm: copy!)
    }

    public func send(_ value: Int, to destination: Int, tag: Int) {
        var message = Int64(value)
        MPI_Send(&message, 1, rat_mpi_int64(), Int32(destination), Int32(tag), comm)
    }

    public func receive(from source: Int?, tag: Int) -> (value: Int, source: Int) {
        var message: Int64 = 0
        var status = MPI_Status()
        MPI_Recv(&message, 1, rat_mpi_int64(), source.map(Int32.init) ?? rat_mpi_any_source(), Int32(tag), comm, &status)
        return (Int(message), Int(status.MPI_SOURCE))
    }

    public func abort(_ message: String, code: Int32) -> Never {
        FileHandle.standardError.write(Data((message + "\n").utf8))
        MPI_Abort(comm, code)
        exit(code)  // MPI_Abort does not return; this satisfies the type checker.
    }
}
