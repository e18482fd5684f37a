import Checkpoints
import Foundation
import Testing

/// The process ids of `parent`'s children whose environment says they are MPI rank `rank`.
func processes(ofRank rank: Int, under parent: Int32) -> [Int32] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.compactMap(Int32.init).filter { pid in
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return false }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 2, Int32(fields[1]) == parent,
              let environ = FileManager.default.contents(atPath: "/proc/\(pid)/environ") else { return false }
        return environ.split(separator: 0).contains { Array($0) == Array("OMPI_COMM_WORLD_RANK=\(rank)".utf8) }
    }
}

@Suite(.serialized, .enabled(if: MPIJob.available, MPIJob.skipReason))
struct RankFaults {
    @Test("Killing one rank mid-training ends the whole job within seconds, naming the rank")
    func killedRankEndsTheJob() throws {
        let folder = temporaryFolder("kill")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let data = try tinyDataset(in: folder, train: 320)
        var killedAt: Date?
        let result = try MPIJob.run(ranks: 2, trainArguments(data: data, output: folder + "/run", model: "mlp", epochs: 200),
                                    timeout: 120) { mpirun in
            // Once rank 1 exists and has had time to enter training, kill it.
            let deadline = Date().addingTimeInterval(60)
            while Date() < deadline {
                if let victim = processes(ofRank: 1, under: mpirun.processIdentifier).first,
                   FileManager.default.fileExists(atPath: folder + "/run/recipe.yaml") {
                    Thread.sleep(forTimeInterval: 1)
                    kill(victim, SIGKILL)
                    killedAt = Date()
                    return
                }
                Thread.sleep(forTimeInterval: 0.1)
            }
        }
        let killed = try #require(killedAt, "rank 1 was never found running: \(result.output)")
        #expect(result.status != 0 && result.status != -1, "the job must end with a failure, not hang: \(result.output)")
        let seconds = Date().timeIntervalSince(killed)
        #expect(seconds < 20, "the job took \(seconds) s to end after rank 1 was killed")
        #expect(result.output.contains("rank 1"), "the message names the rank: \(result.output)")
        // Whatever checkpoints the killed job left are whole (written atomically).
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder + "/run")) ?? []
        for name in names where name.hasSuffix(".safetensors") {
            #expect((try? SafeTensors.read(path: folder + "/run/" + name)) != nil, "\(name) is not a readable checkpoint")
        }
    }
}
