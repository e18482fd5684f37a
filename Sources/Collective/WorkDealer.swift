import Foundation

/// A work item that failed, on the rank that led its group.
public struct DealtWorkFailure: Error, CustomStringConvertible {
    public let failures: [(item: Int, error: any Error)]
    public var description: String {
        failures.map { "item \($0.item): \($0.error)" }.joined(separator: "\n")
    }
}

public struct WorkDealerError: Error, CustomStringConvertible {
    public let description: String
    public init(description: String) { self.description = description }
}

/// Runs `count` independent items (say, the runs of a table sweep) on groups of `k` ranks:
/// ranks 0..<k form group 0, k..<2k group 1, and so on. Every rank of a group calls
/// `run(item, groupCommunicator)` for the same items, in the same order; a group asks for
/// its next item when it has finished the previous one, so long and short runs balance.
///
/// Rank 0 deals: a helper thread on rank 0 answers the group leaders' requests (on a
/// duplicated communicator, so its messages never meet the groups' own), while rank 0's
/// main thread works in group 0 like any other rank. The helper thread needs MPI with
/// MPI_THREAD_MULTIPLE (Open MPI's default build has it). With a single group (`k` equal to
/// the group size, or one process) the items simply run in order, with no dealing.
///
/// An item that throws does not stop the sweep: the others still run, and afterwards the
/// ranks that led failed items throw `DealtWorkFailure` listing them. Collective: every rank
/// of `communicator` must call it with the same `count` and `k`.
public func dealWork(count: Int, ranksPerRun k: Int, communicator: any Communicator,
                     run: (Int, any Communicator) throws -> Void) throws {
    precondition(count >= 0, "dealWork: a negative item count (\(count))")
    guard k >= 1, communicator.size % k == 0 else {
        throw WorkDealerError(description: "--ranks-per-run \(k) must be ≥ 1 and divide the number of ranks (\(communicator.size))")
    }
    var failures: [(item: Int, error: any Error)] = []
    let groups = communicator.size / k
    if groups == 1 {
        for item in 0..<count {
            do { try run(item, communicator) } catch { if communicator.isRoot { failures.append((item, error)) } }
        }
        if !failures.isEmpty { throw DealtWorkFailure(failures: failures) }
        return
    }
    let dealerChannel = communicator.duplicate()
    let group = communicator.split(color: communicator.rank / k, key: communicator.rank)
    var dealer: Thread?
    let dealt = DispatchSemaphore(value: 0)
    if communicator.isRoot {
        guard MPICommunicator.threadMultiple || !(communicator is MPICommunicator) else {
            communicator.abort("error: the work dealer needs MPI with MPI_THREAD_MULTIPLE; this MPI library does not provide it", code: 2)
        }
        let channel = dealerChannel
        dealer = Thread {
            dealItems(count: count, groups: groups, channel: channel)
            dealt.signal()
        }
        dealer?.start()
    }
    while true {
        var item = [UInt8]()
        if group.isRoot {
            dealerChannel.send(0, to: 0, tag: WorkDealerTag.request)
            item = withUnsafeBytes(of: Int64(dealerChannel.receive(from: 0, tag: WorkDealerTag.item).value)) { Array($0) }
        }
        group.broadcast(&item, from: 0)
        let index = Int(item.withUnsafeBytes { $0.loadUnaligned(as: Int64.self) })
        if index < 0 { break }
        do { try run(index, group) } catch { if group.isRoot { failures.append((index, error)) } }
    }
    if dealer != nil { dealt.wait() }
    communicator.barrier()
    if !failures.isEmpty { throw DealtWorkFailure(failures: failures) }
}

enum WorkDealerTag {
    static let request = 1
    static let item = 2
}

/// Rank 0's dealer: answers each request with the next item, then with -1 once per group.
private func dealItems(count: Int, groups: Int, channel: any Communicator) {
    var next = 0, finished = 0
    while finished < groups {
        let request = channel.receive(from: nil, tag: WorkDealerTag.request)
        if next < count {
            channel.send(next, to: request.source, tag: WorkDealerTag.item)
            next += 1
        } else {
            channel.send(-1, to: request.source, tag: WorkDealerTag.item)
            finished += 1
        }
    }
}
