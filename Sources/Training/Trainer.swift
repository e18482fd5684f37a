import Collective
import Executor
import Foundation
import Graph
import Loader
import Models
import Objectives
import Recipe
import Synchronization

/// Set from a signal handler, read by the training loop between steps.
public final class StopFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    public init() {}
    public func request() { flag.store(true, ordering: .relaxed) }
    public var requested: Bool { flag.load(ordering: .relaxed) }
}

/// One training run from a recipe: data, model, compiled step, epochs, validation,
/// checkpoints `last` and `best`, metrics as JSONL.
public final class Trainer {
    public let recipe: Recipe
    public let runDirectory: String
    let program: StepProgram
    /// Validation runs on rank 0 only (the other ranks wait for it in the next step).
    let evaluator: RobustnessEvaluator?
    /// The ranks this run trains on (one, without mpirun) and each one's share of the batch.
    public let parallel: DataParallel
    var isRoot: Bool { parallel.communicator.isRoot }
    let train: BatchLoader
    let validation: SplitData
    public internal(set) var state: TrainState
    let log: (String) -> Void
    let progress: (Progress) -> Void
    /// Held while this trainer exists: one writer per run folder (rank 0, the only writer).
    let lock: RunLock?
    /// The interrupted epoch's loss sums, samples and seconds before a resume.
    var epochSoFar = EpochTotals()
    var training: TrainingGraph { program.training }
    /// The in-graph all-reduce of synchronised BatchNorm (nil: BN statistics are per rank, or one rank).
    let batchNormReduction: CommunicatorReduction?

    /// Where a run is, after each step: for a progress bar or plain lines.
    public struct Progress {
        public var epoch, epochs, batch, batches: Int
        public var total: Double
        public var terms: [(name: String, value: Double)]
        /// Estimated time to the end of this epoch.
        public var secondsLeft: Double
    }

    /// With a `communicator` of several ranks (mpirun), every rank builds its own trainer and
    /// trains its share of each batch; rank 0 alone logs, evaluates and writes the run folder.
    /// Nothing here communicates, so a rank's error cannot leave the others waiting: callers
    /// agree that every rank built its trainer before `run`.
    public init(recipe: Recipe, resume: Bool = false, overwrite: Bool = false, compiler: @escaping GraphCompiler = fastCompiler,
                communicator: any Communicator = SingleProcess(),
                log: @escaping (String) -> Void, progress: @escaping (Progress) -> Void = { _ in }) throws {
        self.recipe = recipe
        // Only rank 0 speaks (every message below is the same on every rank).
        let say: (String) -> Void = communicator.isRoot ? log : { _ in }
        self.log = say
        self.progress = communicator.isRoot ? progress : { _ in }
        runDirectory = recipe.output
        let output = recipe.locations.location(of: "output")
        guard recipe.schedule.batch >= 1, recipe.schedule.epochs >= 1 else {
            let key = recipe.schedule.batch < 1 ? "schedule.batch" : "schedule.epochs"
            throw TrainingError("\(recipe.locations.location(of: key)): '\(key)' must be ≥ 1")
        }
        let setup = try RunSetup(recipe: recipe)
        // (sync_bn with a model without BN is a warning of the recipe checks, which `rat train` runs.)
        let hasBatchNorm = !setup.model.forwardGraph(inputShape: setup.inputShape, mode: .eval).buffers.isEmpty
        parallel = try DataParallel(communicator: communicator, globalBatch: recipe.schedule.batch,
                                    location: "\(recipe.locations.location(of: "schedule.batch"))")
        // sync_bn: each rank holds batch/N rows; BN's statistics are all-reduced in the graph.
        batchNormReduction = recipe.distributed.syncBN && hasBatchNorm ? parallel.batchNormReduction : nil
        if batchNormReduction != nil {
            say("distributed.sync_bn: each of the \(parallel.ranks) ranks runs \(parallel.localBatch) of the batch's "
                + "\(parallel.globalBatch) rows; BatchNorm statistics are all-reduced inside the graph")
        }
        // Checked before anything is created: a mistaken --resume leaves no folder behind.
        if resume, communicator.isRoot, !FileManager.default.fileExists(atPath: runDirectory + "/last.safetensors") {
            throw TrainingError("\(output): --resume: there is no earlier run in '\(runDirectory)' (no last.safetensors); "
                                + "start it without --resume")
        }
        var trainSplit = try setup.split(recipe.data.splits.train, key: "data.splits.train")
        // Checkpoint selection needs its split: the dataset's own, or `data.val` images carved
        // out of train (keyed by the seed) when the dataset has none. Missing is an error.
        let selectSplit = recipe.eval.select.split.rawValue
        if selectSplit == "val" && recipe.data.val > 0 && !setup.dataset.splitNames.contains(selectSplit) {
            (trainSplit, validation) = try trainSplit.carving(recipe.data.val, as: "val", seed: setup.seed)
            say("validation: \(recipe.data.val) images carved out of '\(recipe.data.splits.train)' (seed \(recipe.seed))")
        } else {
            validation = try setup.split(selectSplit, key: "eval.select.split")
        }
        // The step graph has a static batch size, so training always drops the last partial
        // batch: a batch larger than the split would train nothing and save untouched weights.
        guard trainSplit.count >= setup.batch else {
            throw TrainingError("\(recipe.locations.location(of: "schedule.batch")): schedule.batch (\(setup.batch)) is larger than "
                                + "the '\(recipe.data.splits.train)' split (\(trainSplit.count) images): nothing would be trained")
        }
        // Compiled only once the data are known to fit (a huge batch would allocate a huge arena).
        // Each rank's graphs take its share of the batch; the loader still yields global batches.
        let shareShape = [parallel.localBatch] + setup.inputShape.dropFirst()
        // `precision: bf16`: the training step (loss graph and its attack) on oneDNN's bf16
        // convolutions; validation and the final evaluation below keep `compiler` (fp32), so
        // robustness numbers stay comparable across precisions.
        let stepCompiler = recipe.precision == .fp32 ? compiler : FastGraph.compiler(precision: recipe.precision)
        program = try StepProgram(recipe: recipe, model: setup.model, inputShape: shareShape, classes: setup.classes,
                                  compiler: stepCompiler, synchronizingBatchNorm: batchNormReduction)
        if recipe.precision == .bf16 { say(bf16Summary(program)) }
        let selected = recipe.eval.attacks.filter { $0.name == recipe.eval.select.metric }
        evaluator = communicator.isRoot
            ? try RobustnessEvaluator(model: setup.model, inputShape: setup.inputShape, classes: setup.classes,
                                      attacks: selected, compiler: compiler)
            : nil
        train = setup.trainLoader(trainSplit)
        state = setup.initialState(program)
        // The other ranks receive rank 0's state when `run` starts; they touch no file.
        guard communicator.isRoot else {
            lock = nil
            return
        }

        do { try FileManager.default.createDirectory(atPath: runDirectory, withIntermediateDirectories: true) } catch {
            throw TrainingError("\(output): cannot create output folder '\(runDirectory)': \(error.localizedDescription)")
        }
        guard FileManager.default.isWritableFile(atPath: runDirectory) else {
            throw TrainingError("\(output): output folder '\(runDirectory)' is not writable")
        }
        do { lock = try RunLock(folder: runDirectory) } catch { throw TrainingError("\(output): \(error)") }
        // A new run never silently replaces an earlier one's checkpoints and metrics.
        let earlier = ["last.safetensors", "best.safetensors", "metrics.jsonl"].filter {
            FileManager.default.fileExists(atPath: runDirectory + "/" + $0)
        }
        if !resume && !overwrite && !earlier.isEmpty {
            throw TrainingError("\(output): '\(runDirectory)' already holds a run (\(earlier.joined(separator: ", "))); "
                                + "continue it with --resume, start over with --overwrite, or set another output")
        }
        if resume {
            try acceptChangesOnResume()
            try loadCheckpoint(lastPath, into: &state, requireMomentum: true)
            epochSoFar = try EpochTotals(checkpoint: lastPath, batch: state.batch)
            log("resuming \(lastPath) at epoch \(state.epoch + 1), batch \(state.batch + 1)")
        } else {
            try renderYAML(recipe).write(toFile: recipePath, atomically: true, encoding: .utf8)
            _ = FileManager.default.createFile(atPath: metricsPath, contents: nil)
            for stale in [bestPath, optimizerStatePath(forWeights: bestPath)] + keptEpochPaths() {
                try? FileManager.default.removeItem(atPath: stale)
            }
        }
    }

    /// Recipe keys a resumed run may change: how long it trains, how and how often it is
    /// evaluated (not how checkpoints are selected: `best` would compare unlike numbers),
    /// and where the folder is. Anything else would make one run of two recipes.
    public static func mayChangeOnResume(_ keyPath: String) -> Bool {
        keyPath == "schedule.epochs" || keyPath == "output"
            || (keyPath.hasPrefix("eval.") && !keyPath.hasPrefix("eval.select."))
    }

    /// Compares the resolved recipe with the run's stored `recipe.yaml`: a change outside
    /// `mayChangeOnResume` is an error listing the differences; allowed ones are logged and
    /// stored, so `recipe.yaml` always describes how the run continues.
    private func acceptChangesOnResume() throws {
        let current = renderYAML(recipe)
        guard let stored = try? String(contentsOfFile: recipePath, encoding: .utf8) else {
            log("note: '\(recipePath)' is missing; it is written from this recipe")
            try current.write(toFile: recipePath, atomically: true, encoding: .utf8)
            return
        }
        let differences = try recipeDifferences(old: stored, new: current)
        let refused = differences.filter { !Self.mayChangeOnResume($0.path) }
        if let first = refused.first {
            let listed: [String] = differences.map { difference in
                difference.description + (Self.mayChangeOnResume(difference.path) ? "" : "  (not allowed)")
            }
            let where_ = recipe.locations.location(of: first.path)
            throw TrainingError("\(where_): --resume: the recipe differs from the run's '\(recipePath)' where a resumed run "
                                + "may not change (only schedule.epochs, eval.* except eval.select, and output may):\n  "
                                + listed.joined(separator: "\n  ")
                                + "\nresume with the stored recipe, or start a new run (--overwrite or another output)")
        }
        guard !differences.isEmpty else { return }
        let changes: [String] = differences.map { $0.description }
        log("resume with changed settings (stored in recipe.yaml): " + changes.joined(separator: "; "))
        try current.write(toFile: recipePath, atomically: true, encoding: .utf8)
    }

    public var lastPath: String { runDirectory + "/last.safetensors" }
    public var bestPath: String { runDirectory + "/best.safetensors" }
    /// The weights after `epoch` epochs, kept when `eval.keep_every` divides it.
    public func keptEpochPath(_ epoch: Int) -> String { runDirectory + "/epoch-\(epoch).safetensors" }

    func keptEpochPaths() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: runDirectory)) ?? []
        return names.filter { $0.hasPrefix("epoch-") && $0.hasSuffix(".safetensors") }.map { runDirectory + "/" + $0 }
    }
    var metricsPath: String { runDirectory + "/metrics.jsonl" }
    var recipePath: String { runDirectory + "/recipe.yaml" }

    /// Trains to the recipe's last epoch, or until `stop` is requested or `maxSteps` steps
    /// ran (a resumable checkpoint is saved either way). Returns true when training finished.
    @discardableResult
    public func run(stop: StopFlag = StopFlag(), maxSteps: Int? = nil) throws -> Bool {
        let epochs = recipe.schedule.epochs
        var stepsThisRun = 0
        // Every rank starts from rank 0's weights (fresh or resumed), whatever N wrote them.
        if parallel.ranks > 1 { shareState(from: 0) }
        while state.epoch < epochs {
            let lr = recipe.optim.lr * recipe.schedule.lr.factor(atEpoch: state.epoch, of: epochs)
            let started = Date()
            // The epoch's sums cover the batches before a stop too (restored on resume).
            var totals = epochSoFar
            epochSoFar = EpochTotals()
            var stepsThisEpoch = 0
            for batch in train.batches(epoch: state.epoch, startingAt: state.batch) {
                if stop.requested || maxSteps.map({ stepsThisRun >= $0 }) == true {
                    var stopped = totals
                    stopped.seconds += Date().timeIntervalSince(started)
                    if isRoot { try saveCheckpoint(state, to: lastPath, metadata: stopped.metadata) }
                    log("stopped at epoch \(state.epoch + 1), batch \(state.batch + 1); resume with --resume")
                    reportBatchNormSynchronisation(steps: stepsThisRun)
                    return false
                }
                let report: StepProgram.Report
                let share = parallel.share(images: batch.images, labels: batch.labels)
                do {
                    report = try program.step(&state, images: share.images, labels: share.labels, lr: lr, parallel: parallel)
                } catch let error as TrainingError {
                    let kept = FileManager.default.fileExists(atPath: lastPath)
                        ? " The last good checkpoint '\(lastPath)' is kept." : " No checkpoint had been written yet."
                    throw TrainingError(error.description + kept)
                }
                state.batch += 1
                stepsThisRun += 1
                stepsThisEpoch += 1
                totals.steps += 1
                totals.samples += batch.count
                totals.sums["total", default: 0] += report.total
                for (k, v) in report.terms { totals.sums[k, default: 0] += v }
                let elapsed = Date().timeIntervalSince(started)
                progress(Progress(epoch: state.epoch + 1, epochs: epochs, batch: state.batch, batches: train.batchesPerEpoch,
                                  total: report.total, terms: training.terms.map { ($0.name, report.terms[$0.name] ?? .nan) },
                                  secondsLeft: elapsed / Double(stepsThisEpoch) * Double(train.batchesPerEpoch - state.batch)))
            }
            totals.seconds += Date().timeIntervalSince(started)
            let steps = Double(max(totals.steps, 1))
            var metrics: [String: Any] = ["epoch": state.epoch + 1, "lr": lr, "seconds": totals.seconds,
                                          "samples_per_second": Double(totals.samples) / max(totals.seconds, 1e-9),
                                          "loss": totals.sums.mapValues { $0 / steps }]
            // Every rank must hold the same weights: compared before anything is written.
            if parallel.ranks > 1 { try compareWeightsAcrossRanks() }
            let evaluate = (state.epoch + 1) % max(recipe.eval.every, 1) == 0 || state.epoch + 1 == epochs
            if !isRoot {
                state.epoch += 1
                state.batch = 0
                continue
            }
            if evaluate {
                let accuracy = try accuracies(on: validation)
                metrics["val"] = accuracy
                let metric = accuracy[recipe.eval.select.metric] ?? accuracy["clean"] ?? 0
                if metric > state.bestMetric {
                    state.bestMetric = metric
                    var best = state
                    best.epoch += 1
                    best.batch = 0
                    // Best is for evaluation only: its momentum would never be read.
                    try saveCheckpoint(best, to: bestPath, metadata: ["selected_by": "\(recipe.eval.select.metric) on \(validation.name)"],
                                       withOptimizerState: false)
                }
                log("epoch \(state.epoch + 1): " + accuracy.sorted { $0.key < $1.key }.map { String(format: "%@ %.2f%%", $0.key, 100 * $0.value) }.joined(separator: "  "))
            }
            state.epoch += 1
            state.batch = 0
            try saveCheckpoint(state, to: lastPath)
            if recipe.eval.keepEvery > 0, state.epoch % recipe.eval.keepEvery == 0 {
                try saveCheckpoint(state, to: keptEpochPath(state.epoch), withOptimizerState: false)
            }
            let line = try JSONSerialization.data(withJSONObject: metrics, options: [.sortedKeys])
            if let handle = FileHandle(forWritingAtPath: metricsPath) {
                handle.seekToEndOfFile()
                handle.write(line + Data("\n".utf8))
                try handle.close()
            }
        }
        reportBatchNormSynchronisation(steps: stepsThisRun)
        return true
    }

    /// sync_bn's cost on rank 0: its all-reduces per step and the time inside them.
    private func reportBatchNormSynchronisation(steps: Int) {
        guard let reduction = batchNormReduction, steps > 0 else { return }
        let calls = reduction.calls.load(ordering: .relaxed), seconds = Double(reduction.nanoseconds.load(ordering: .relaxed)) * 1e-9
        log(String(format: "distributed.sync_bn: %.1f all-reduces per step, %.2f ms per step inside them "
                   + "(rank 0: transfer and waiting for the other ranks)", Double(calls) / Double(steps), 1e3 * seconds / Double(steps)))
    }

    /// Clean and selection-metric accuracy on a split (eval-mode BN).
    public func accuracies(on split: SplitData) throws -> [String: Double] {
        guard let evaluator else { preconditionFailure("accuracies(on:) on rank \(parallel.communicator.rank): only rank 0 evaluates") }
        return try measureAccuracy(evaluator: evaluator, weights: state.parameters.merging(state.buffers) { a, _ in a },
                            split: split, batch: recipe.schedule.batch, limit: recipe.eval.examples,
                            seed: UInt64(bitPattern: Int64(recipe.seed)))
    }
}
