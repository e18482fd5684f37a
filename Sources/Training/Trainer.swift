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
    let evaluator: RobustnessEvaluator
    let train: BatchLoader
    let validation: SplitData
    public private(set) var state: TrainState
    let log: (String) -> Void
    let progress: (Progress) -> Void
    var training: TrainingGraph { program.training }

    /// Where a run is, after each step: for a progress bar or plain lines.
    public struct Progress {
        public var epoch, epochs, batch, batches: Int
        public var total: Double
        public var terms: [(name: String, value: Double)]
        /// Estimated time to the end of this epoch.
        public var secondsLeft: Double
    }

    public init(recipe: Recipe, resume: Bool = false, overwrite: Bool = false, compiler: @escaping GraphCompiler = fastCompiler,
                log: @escaping (String) -> Void, progress: @escaping (Progress) -> Void = { _ in }) throws {
        self.recipe = recipe
        self.log = log
        self.progress = progress
        runDirectory = recipe.output
        let dataset: Dataset
        do { dataset = try Dataset.open(recipe.data.path) } catch {
            throw TrainingError("\(recipe.locations.location(of: "data.path")): cannot open dataset '\(recipe.data.path)': \(error)")
        }
        var trainSplit = try dataset.split(recipe.data.splits.train)
        let model = try makeModel(recipe, channels: dataset.channels, height: dataset.height, width: dataset.width,
                                  classes: dataset.classCount)
        let batch = recipe.schedule.batch
        let shape = [batch, dataset.channels, dataset.height, dataset.width]
        program = try StepProgram(recipe: recipe, model: model, inputShape: shape, classes: dataset.classCount, compiler: compiler)
        let selected = recipe.eval.attacks.filter { $0.name == recipe.eval.select.metric }
        evaluator = try RobustnessEvaluator(model: model, inputShape: shape, classes: dataset.classCount,
                                            attacks: selected, compiler: compiler)
        let augmentation = Augmentation(cropPadding: recipe.data.augment.cropPadding,
                                        horizontalFlip: recipe.data.augment.horizontalFlip)
        // Checkpoint selection needs its split: the dataset's own, or `data.val` images carved
        // out of train (keyed by the seed) when the dataset has none. Missing is an error.
        let selectSplit = recipe.eval.select.split.rawValue
        if dataset.splitNames.contains(selectSplit) {
            validation = try dataset.split(selectSplit)
        } else if selectSplit == "val" && recipe.data.val > 0 {
            (trainSplit, validation) = try trainSplit.carving(recipe.data.val, as: "val", seed: UInt64(bitPattern: Int64(recipe.seed)))
            log("validation: \(recipe.data.val) images carved out of '\(recipe.data.splits.train)' (seed \(recipe.seed))")
        } else {
            throw TrainingError("\(recipe.locations.location(of: "eval.select.split")): the dataset at '\(recipe.data.path)' "
                                + "has no '\(selectSplit)' split (it has: \(dataset.splitNames.joined(separator: ", ")))")
        }
        // The step graph has a static batch size, so training always drops the last partial batch.
        train = BatchLoader(split: trainSplit, batchSize: batch, seed: UInt64(bitPattern: Int64(recipe.seed)),
                            augmentation: augmentation, dropLast: true)
        state = TrainState(parameters: program.training.parameters, buffers: program.training.buffers,
                           seed: UInt64(bitPattern: Int64(recipe.seed)))

        let output = recipe.locations.location(of: "output")
        do { try FileManager.default.createDirectory(atPath: runDirectory, withIntermediateDirectories: true) } catch {
            throw TrainingError("\(output): cannot create output folder '\(runDirectory)': \(error.localizedDescription)")
        }
        guard FileManager.default.isWritableFile(atPath: runDirectory) else {
            throw TrainingError("\(output): output folder '\(runDirectory)' is not writable")
        }
        // A new run never silently replaces an earlier one's checkpoints and metrics.
        let earlier = ["last.safetensors", "best.safetensors", "metrics.jsonl"].filter {
            FileManager.default.fileExists(atPath: runDirectory + "/" + $0)
        }
        if !resume && !overwrite && !earlier.isEmpty {
            throw TrainingError("\(output): '\(runDirectory)' already holds a run (\(earlier.joined(separator: ", "))); "
                                + "continue it with --resume, start over with --overwrite, or set another output")
        }
        if resume {
            try loadCheckpoint(lastPath, into: &state, requireMomentum: true)
            log("resuming \(lastPath) at epoch \(state.epoch + 1), batch \(state.batch + 1)")
        } else {
            try renderYAML(recipe).write(toFile: runDirectory + "/recipe.yaml", atomically: true, encoding: .utf8)
            _ = FileManager.default.createFile(atPath: metricsPath, contents: nil)
            try? FileManager.default.removeItem(atPath: bestPath)
        }
    }

    public var lastPath: String { runDirectory + "/last.safetensors" }
    public var bestPath: String { runDirectory + "/best.safetensors" }
    var metricsPath: String { runDirectory + "/metrics.jsonl" }

    /// Trains to the recipe's last epoch, or until `stop` is requested or `maxSteps` steps
    /// ran (a resumable checkpoint is saved either way). Returns true when training finished.
    @discardableResult
    public func run(stop: StopFlag = StopFlag(), maxSteps: Int? = nil) throws -> Bool {
        let epochs = recipe.schedule.epochs
        var stepsThisRun = 0
        while state.epoch < epochs {
            let lr = recipe.optim.lr * recipe.schedule.lr.factor(atEpoch: state.epoch, of: epochs)
            let started = Date()
            var sums = [String: Double](), seen = 0, stepsThisEpoch = 0
            for batch in train.batches(epoch: state.epoch, startingAt: state.batch) {
                if stop.requested || maxSteps.map({ stepsThisRun >= $0 }) == true {
                    try saveCheckpoint(state, to: lastPath)
                    log("stopped at epoch \(state.epoch + 1), batch \(state.batch + 1); resume with --resume")
                    return false
                }
                let report = try program.step(&state, images: batch.images, labels: batch.labels, lr: lr)
                state.batch += 1
                stepsThisRun += 1
                stepsThisEpoch += 1
                seen += batch.count
                sums["total", default: 0] += report.total
                for (k, v) in report.terms { sums[k, default: 0] += v }
                let elapsed = Date().timeIntervalSince(started)
                progress(Progress(epoch: state.epoch + 1, epochs: epochs, batch: state.batch, batches: train.batchesPerEpoch,
                                  total: report.total, terms: training.terms.map { ($0.name, report.terms[$0.name] ?? .nan) },
                                  secondsLeft: elapsed / Double(stepsThisEpoch) * Double(train.batchesPerEpoch - state.batch)))
            }
            let seconds = Date().timeIntervalSince(started)
            let steps = Double(max(stepsThisEpoch, 1))
            var metrics: [String: Any] = ["epoch": state.epoch + 1, "lr": lr, "seconds": seconds,
                                          "samples_per_second": Double(seen) / max(seconds, 1e-9),
                                          "loss": sums.mapValues { $0 / steps }]
            let evaluate = (state.epoch + 1) % max(recipe.eval.every, 1) == 0 || state.epoch + 1 == epochs
            if evaluate {
                let accuracy = try accuracies(on: validation)
                metrics["val"] = accuracy
                let metric = accuracy[recipe.eval.select.metric] ?? accuracy["clean"] ?? 0
                if metric > state.bestMetric {
                    state.bestMetric = metric
                    var best = state
                    best.epoch += 1
                    best.batch = 0
                    try saveCheckpoint(best, to: bestPath, metadata: ["selected_by": "\(recipe.eval.select.metric) on \(validation.name)"])
                }
                log("epoch \(state.epoch + 1): " + accuracy.sorted { $0.key < $1.key }.map { String(format: "%@ %.2f%%", $0.key, 100 * $0.value) }.joined(separator: "  "))
            }
            state.epoch += 1
            state.batch = 0
            try saveCheckpoint(state, to: lastPath)
            let line = try JSONSerialization.data(withJSONObject: metrics, options: [.sortedKeys])
            if let handle = FileHandle(forWritingAtPath: metricsPath) {
                handle.seekToEndOfFile()
                handle.write(line + Data("\n".utf8))
                try handle.close()
            }
        }
        return true
    }

    /// Clean and selection-metric accuracy on a split (eval-mode BN).
    public func accuracies(on split: SplitData) throws -> [String: Double] {
        try measureAccuracy(evaluator: evaluator, weights: state.parameters.merging(state.buffers) { a, _ in a },
                            split: split, batch: recipe.schedule.batch, limit: recipe.eval.examples,
                            seed: UInt64(bitPattern: Int64(recipe.seed)))
    }
}
