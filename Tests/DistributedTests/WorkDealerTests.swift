import Collective
import Foundation
import Testing

@Suite("Work dealer")
struct WorkDealerTests {
    @Test("In one process every item runs once, in order, on the group of one")
    func singleProcess() throws {
        var ran = [Int]()
        try dealWork(count: 5, ranksPerRun: 1, communicator: SingleProcess()) { item, group in
            #expect(group.size == 1)
            ran.append(item)
        }
        #expect(ran == [0, 1, 2, 3, 4])
    }

    @Test("A failing item does not stop the others; the failure is reported with its index")
    func failuresAreCollected() throws {
        struct Boom: Error {}
        var ran = [Int]()
        #expect(throws: DealtWorkFailure.self) {
            try dealWork(count: 3, ranksPerRun: 1, communicator: SingleProcess()) { item, _ in
                ran.append(item)
                if item == 1 { throw Boom() }
            }
        }
        #expect(ran == [0, 1, 2])
    }

    @Test("ranks per run must divide the ranks")
    func groupSizeMustDivide() {
        #expect(throws: WorkDealerError.self) {
            try dealWork(count: 1, ranksPerRun: 2, communicator: SingleProcess()) { _, _ in }
        }
    }
}

@Suite(.serialized, .enabled(if: MPIJob.available, MPIJob.skipReason))
struct WorkDealerUnderMPI {
    func items(in folder: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter { $0.hasPrefix("item-") }.sorted()
    }

    @Test("4 items on -np 2, one rank per run: each item runs exactly once")
    func fourItemsTwoRanks() throws {
        let folder = temporaryFolder("deal")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let result = try MPIJob.run(ranks: 2, ["distributed", "deal", "--items", "4", "--ranks-per-run", "1", "--directory", folder],
                                    timeout: 60)
        #expect(result.status == 0, "\(result.output)")
        // Each item's file is created exclusively: a second run of an item would have failed the job.
        #expect(items(in: folder) == ["item-0", "item-1", "item-2", "item-3"])
    }

    @Test("7 items on -np 2, two ranks per run (one group): each runs once on a group of 2")
    func oneGroupOfTwo() throws {
        let folder = temporaryFolder("deal2")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let result = try MPIJob.run(ranks: 2, ["distributed", "deal", "--items", "7", "--ranks-per-run", "2", "--directory", folder,
                                               "--odd-item-seconds", "0"], timeout: 60)
        #expect(result.status == 0, "\(result.output)")
        #expect(items(in: folder) == (0..<7).map { "item-\($0)" })
        let text = try String(contentsOfFile: folder + "/item-3", encoding: .utf8)
        #expect(text.contains("group of 2"), "\(text)")
    }
}
