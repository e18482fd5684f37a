import Foundation
import Testing

/// `mpirun -np 2 rat train` against one process: the same trajectory, identical ranks,
/// resumable with another rank count, a clear error for a batch that does not divide.
@Suite(.serialized, .enabled(if: MPIJob.available, MPIJob.skipReason))
struct DataParallelTraining {
    /// 320 training images: one epoch of 5 steps at batch 64.
    static func dataset(_ folder: String) throws -> String { try tinyDataset(in: folder, train: 320) }

    @Test("MLP (no BN), 5 steps: -np 2 at global batch 64 matches one process at 64, weights and metrics to 1e-5")
    func mlpMatchesSingleProcess() throws {
        let folder = temporaryFolder("equivalence")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let data = try Self.dataset(folder)
        let single = try MPIJob.run(ranks: nil, trainArguments(data: data, output: folder + "/single", model: "mlp"))
        #expect(single.status == 0, "\(single.output)")
        let ranks = folder + "/ranks"
        try FileManager.default.createDirectory(atPath: ranks, withIntermediateDirectories: true)
        let parallel = try MPIJob.run(ranks: 2, trainArguments(data: data, output: folder + "/parallel", model: "mlp")
                                      + ["--every-rank-weights", ranks])
        #expect(parallel.status == 0, "\(parallel.output)")
        guard single.status == 0, parallel.status == 0 else { return }

        let weights = try largestRelativeDifference(folder + "/single/last.safetensors", folder + "/parallel/last.safetensors")
        #expect(weights < 1e-5, "weights differ by \(weights) (relative)")
        let (a, b) = (try metrics(folder + "/single"), try metrics(folder + "/parallel"))
        #expect(a.count == 1 && b.count == 1)
        let (x, y) = (numbers(a[0]), numbers(b[0]))
        #expect(Set(x.keys) == Set(y.keys) && x["loss.total"] != nil && x["val.clean"] != nil)
        for (key, value) in x {
            let other = y[key] ?? .nan
            #expect(agree(value, other), "\(key): \(value) alone, \(other) on 2 ranks")
        }
        // Byte-equal weights and BN buffers on every rank (the metadata holds rank 0's best
        // metric: only rank 0 evaluates), and one rank reported.
        let rank0 = try tensorBytes(ranks + "/rank-0.safetensors"), rank1 = try tensorBytes(ranks + "/rank-1.safetensors")
        #expect(!rank0.isEmpty && rank0 == rank1, "the ranks' final weights differ")
        #expect(parallel.output.components(separatedBy: "finished:").count == 2, "one 'finished' line (rank 0's):\n\(parallel.output)")
    }

    @Test("sync_bn on small-cnn, 2 steps: -np 2 matches one process to 1e-5")
    func syncBatchNormMatchesSingleProcess() throws {
        let folder = temporaryFolder("syncbn")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let data = try tinyDataset(in: folder, train: 32)  // 2 steps of 16: small-cnn is the slow one
        let extra = ["distributed.sync_bn=true", "schedule.batch=16"]
        let single = try MPIJob.run(ranks: nil, trainArguments(data: data, output: folder + "/single", model: "small-cnn", extra: extra))
        let parallel = try MPIJob.run(ranks: 2, trainArguments(data: data, output: folder + "/parallel", model: "small-cnn", extra: extra))
        #expect(single.status == 0, "\(single.output)")
        #expect(parallel.status == 0, "\(parallel.output)")
        guard single.status == 0, parallel.status == 0 else { return }
        let weights = try largestRelativeDifference(folder + "/single/last.safetensors", folder + "/parallel/last.safetensors")
        #expect(weights < 1e-5, "weights (and BN running statistics) differ by \(weights) (relative)")
        let (x, y) = (numbers(try metrics(folder + "/single")[0]), numbers(try metrics(folder + "/parallel")[0]))
        for (key, value) in x { #expect(agree(value, y[key] ?? .nan), "\(key): \(value) vs \(y[key] ?? .nan)") }
    }

    @Test("A -np 2 checkpoint resumed by one process continues the same trajectory")
    func resumeWithAnotherRankCount() throws {
        let folder = temporaryFolder("resume")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let data = try Self.dataset(folder)
        let straight = try MPIJob.run(ranks: nil, trainArguments(data: data, output: folder + "/straight", model: "mlp", epochs: 2))
        #expect(straight.status == 0, "\(straight.output)")
        let arguments = trainArguments(data: data, output: folder + "/split", model: "mlp", epochs: 2)
        // 7 steps on 2 ranks: into the second epoch, past an epoch's checkpoint and metrics.
        let first = try MPIJob.run(ranks: 2, arguments + ["--stop-after-steps", "7"])
        #expect(first.status == 0, "\(first.output)")
        #expect(first.output.contains("stopped at epoch 2, batch 3"), "\(first.output)")
        let second = try MPIJob.run(ranks: nil, arguments + ["--resume"])
        #expect(second.status == 0, "\(second.output)")
        guard straight.status == 0, first.status == 0, second.status == 0 else { return }
        let weights = try largestRelativeDifference(folder + "/straight/last.safetensors", folder + "/split/last.safetensors")
        #expect(weights < 1e-5, "resumed weights differ by \(weights) (relative)")
        let (a, b) = (try metrics(folder + "/straight"), try metrics(folder + "/split"))
        #expect(a.count == 2 && b.count == 2)
        for (lineA, lineB) in zip(a, b) {
            let (x, y) = (numbers(lineA), numbers(lineB))
            for (key, value) in x where key.hasPrefix("loss.") {
                #expect(agree(value, y[key] ?? .nan), "\(key): \(value) vs \(y[key] ?? .nan)")
            }
        }
    }

    @Test("A batch that does not divide among the ranks is an error naming schedule.batch, on no rank a hang")
    func indivisibleBatch() throws {
        let folder = temporaryFolder("indivisible")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let data = try Self.dataset(folder)
        let result = try MPIJob.run(ranks: 2, trainArguments(data: data, output: folder + "/run", model: "mlp",
                                                              extra: ["schedule.batch=63"]), timeout: 60)
        #expect(result.status != 0 && result.status != -1, "\(result.output)")
        #expect(result.output.contains("schedule.batch (63) does not divide among 2 ranks"), "\(result.output)")
    }
}
