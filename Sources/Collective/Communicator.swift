import Foundation

/// A group of processes that train or sweep together: the operations rat needs from MPI and
/// nothing more. `SingleProcess` is the group of one (no MPI call at all, what a plain
/// `rat train` uses); `MPICommunicator` is Open MPI's. Errors inside MPI are fatal to the
/// whole job (Open MPI's default `MPI_ERRORS_ARE_FATAL`): no call here returns a failure.
public protocol Communicator: AnyObject, Sendable {
    /// This process's index in the group, 0..<size.
    var rank: Int { get }
    var size: Int { get }
    /// Element-wise sum over the group, in place; every rank gets the same result.
    func allReduceSum(_ values: inout [Float])
    func allReduceSum(_ values: inout [Double])
    /// The same in caller-owned memory, without a copy or an allocation (synchronised
    /// BatchNorm all-reduces slices of an executor's arena inside every step).
    func allReduceSum(_ values: UnsafeMutableBufferPointer<Float>)
    func allReduceSum(_ values: UnsafeMutableBufferPointer<Double>)
    /// The largest of every rank's `value`.
    func allReduceMax(_ value: Int) -> Int
    /// Replaces `bytes` on every rank with root's (the count is sent first, so other ranks
    /// may pass an empty array).
    func broadcast(_ bytes: inout [UInt8], from root: Int)
    func barrier()
    /// Ranks passing the same `color` form a new group, ordered by `key` (collective).
    func split(color: Int, key: Int) -> any Communicator
    /// The same ranks with a separate message space (collective): for a helper thread.
    func duplicate() -> any Communicator
    /// Point-to-point, one integer: the work dealer's protocol.
    func send(_ value: Int, to destination: Int, tag: Int)
    /// Blocks until an integer with `tag` arrives from `source` (nil: any rank).
    func receive(from source: Int?, tag: Int) -> (value: Int, source: Int)
    /// Ends every process of the job (exit status `code`) after printing `message` to stderr.
    func abort(_ message: String, code: Int32) -> Never
}

extension Communicator {
    /// Rank 0 is the one that writes checkpoints, metrics and progress.
    public var isRoot: Bool { rank == 0 }

    /// Every rank's `value` gathered on every rank, in rank order.
    public func allGather(_ value: Double) -> [Double] {
        var slots = [Double](repeating: 0, count: size)
        slots[rank] = value
        allReduceSum(&slots)
        return slots
    }
}

/// The group of one process: every collective is the identity, and nothing links to MPI at run time.
public final class SingleProcess: Communicator {
    public init() {}
    public var rank: Int { 0 }
    public var size: Int { 1 }
    public func allReduceSum(_ values: inout [Float]) {}
    public func allReduceSum(_ values: inout [Double]) {}
    public func allReduceSum(_ values: UnsafeMutableBufferPointer<Float>) {}
    public func allReduceSum(_ values: UnsafeMutableBufferPointer<Double>) {}
    public func allReduceMax(_ value: Int) -> Int { value }
    public func broadcast(_ bytes: inout [UInt8], from root: Int) { precondition(root == 0, "rank \(root) of a group of one") }
    public func barrier() {}
    public func split(color: Int, key: Int) -> any Communicator { SingleProcess() }
    public func duplicate() -> any Communicator { SingleProcess() }
    public func send(_ value: Int, to destination: Int, tag: Int) {
        preconditionFailure("send(to: \(destination)) in a group of one: nobody would receive it")
    }
    public func receive(from source: Int?, tag: Int) -> (value: Int, source: Int) {
        preconditionFailure("receive in a group of one: nobody would send")
    }
    public func abort(_ message: String, code: Int32) -> Never {
        FileHandle.standardError.write(Data((message + "\n").utf8))
        exit(code)
    }
}
