import Foundation
import Testing

/// `mpirun -np 2 rat table run T --ranks-per-run 1`: whole runs of a table dealt to the
/// ranks, each run trained exactly once, and a second sweep finds nothing to do.
@Suite(.serialized, .enabled(if: MPIJob.available, MPIJob.skipReason))
struct TableSweepUnderMPI {
    /// A 2 rows × 2 seeds table of a seconds-long MLP recipe on the tiny dataset.
    func writeTable(in folder: String) throws -> String {
        let data = try tinyDataset(in: folder, train: 128)
        let recipe = """
            data: {name: tiny, path: \(data), augment: {crop_padding: 0, horizontal_flip: false}}
            model: {name: mlp, hidden: 16}
            threat: {norm: linf, eps: 0.1, step: 0.05, steps: 1}
            noise: {enabled: false}
            loss:
              params: {beta: 6}
              terms:
                - {name: natural, kind: ce, on: clean}
                - {name: robust, kind: kl, on: [clean, adversarial], weight: beta}
            optim: {lr: 0.05}
            schedule: {epochs: 1, batch: 64}
            eval: {attacks: [pgd20], split: test, select: {metric: pgd20, split: val}}
            """
        try recipe.write(toFile: folder + "/tiny.yaml", atomically: true, encoding: .utf8)
        let spec = """
            title: Sweep
            seeds: [0, 1]
            runs: \(folder)/runs
            columns: [clean, pgd20]
            rows:
              - {label: beta 6, recipe: tiny.yaml}
              - {label: beta 1, recipe: tiny.yaml, set: {loss.params.beta: 1}}
            """
        try spec.write(toFile: folder + "/spec.yaml", atomically: true, encoding: .utf8)
        return folder + "/spec.yaml"
    }

    @Test("a table of 4 runs on -np 2 with one rank per run trains each run exactly once")
    func fourRunsTwoRanks() throws {
        let folder = temporaryFolder("table")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let spec = try writeTable(in: folder)
        let first = try MPIJob.run(ranks: 2, ["table", "run", spec, "--ranks-per-run", "1"], timeout: 180)
        try expectEveryRunTrainedOnceAndEvaluated(first, runs: folder + "/runs")
        // Both ranks got work (the dealer hands out runs as ranks become free).
        #expect(first.output.contains("[rank 0] run") && first.output.contains("[rank 1] run"), "\(first.output)")

        let second = try MPIJob.run(ranks: 2, ["table", "run", spec, "--ranks-per-run", "1"], timeout: 120)
        #expect(second.status == 0, "\(second.output)")
        #expect(!second.output.contains("training 1 epoch(s)"), "nothing left to train:\n\(second.output)")
    }

    @Test("the same table on -np 2 with two ranks per run: each run trained once, data-parallel by the pair")
    func fourRunsOneGroupOfTwo() throws {
        let folder = temporaryFolder("table-group")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let spec = try writeTable(in: folder)
        let job = try MPIJob.run(ranks: 2, ["table", "run", spec, "--ranks-per-run", "2"], timeout: 240)
        try expectEveryRunTrainedOnceAndEvaluated(job, runs: folder + "/runs")
    }

    /// The job succeeded, logged one training per run (only a group's rank 0 logs), and each of
    /// the table's 4 run folders holds one epoch of metrics and its evaluations.
    func expectEveryRunTrainedOnceAndEvaluated(_ job: MPIJob.Result, runs folder: String) throws {
        #expect(job.status == 0, "\(job.output)")
        #expect(job.output.components(separatedBy: "training 1 epoch(s)").count - 1 == 4, "\(job.output)")
        let runs = try FileManager.default.contentsOfDirectory(atPath: folder).filter { !$0.hasSuffix(".json") }
        #expect(runs.count == 4, "\(runs)")
        for run in runs {
            let metrics = try String(contentsOfFile: "\(folder)/\(run)/metrics.jsonl", encoding: .utf8)
            #expect(metrics.split(separator: "\n").count == 1, "\(run): one epoch, trained once")
            let evaluations = try FileManager.default.contentsOfDirectory(atPath: "\(folder)/\(run)/eval")
            #expect(!evaluations.isEmpty, "\(run): its cells were evaluated")
        }
    }
}
