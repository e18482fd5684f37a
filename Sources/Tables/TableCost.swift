import Executor
import Foundation
import Graph
import Kernels
import Loader
import Models
import Planner
import Recipe
import Training

/// What one run costs on this machine: training per epoch and in total, plus its
/// evaluation, in wall seconds and CPU-hours (wall × the cores rat's loops use).
public struct RunCost: Sendable {
    /// Planned FLOPs of one training step (attack steps, target, loss + gradients, AWP proxy).
    public var stepGFLOP: Double
    public var stepsPerEpoch: Int
    public var secondsPerStep: Double
    /// Validation for checkpoint selection, averaged per epoch.
    public var validationSecondsPerEpoch: Double
    public var evaluationSeconds: Double
    public var epochs: Int
    /// "measured" (a timed step of this very workload) or "FLOP estimate at … GFLOP/s".
    public var method: String
    public var cores: Int

    public var secondsPerEpoch: Double { Double(stepsPerEpoch) * secondsPerStep + validationSecondsPerEpoch }
    public var totalSeconds: Double { Double(epochs) * secondsPerEpoch + evaluationSeconds }
    public var cpuHoursPerEpoch: Double { secondsPerEpoch * Double(cores) / 3600 }
    public var cpuHoursTotal: Double { totalSeconds * Double(cores) / 3600 }
}

/// Estimates run costs: the step's FLOPs from the planner; the speed from one timed step of
/// the workload itself when that step is small (≤ `measureLimitGFLOP`), else the GFLOP/s a
/// timed step of the same loss on the small CNN reached (big models use the cores better,
/// so this overestimates them). Timings are cached per workload within the estimator.
public final class CostEstimator {
    public var measureLimitGFLOP = 40.0
    private var measured = [String: Double]()      // workload key → seconds per step
    private var calibrated = [String: Double]()    // loss key → GFLOP/s

    public init() {}

    public func cost(of run: TableRun, spec: TableSpec) throws -> RunCost {
        let recipe = run.recipe
        let data = try DataGeometry.of(recipe, allowStandard: true)
        let shape = [recipe.schedule.batch, data.channels, data.height, data.width]
        let model = try makeModel(recipe, channels: data.channels, height: data.height, width: data.width, classes: data.classes)
        let graphs = try StepGraphs(recipe: recipe, model: model, inputShape: shape, classes: data.classes)
        var stepFLOPs = plan(graphs.training.graph).flops
        if let attack = graphs.attack { stepFLOPs += plan(attack).flops * recipe.threat.steps }
        if let target = graphs.target { stepFLOPs += plan(target).flops }
        if let proxy = graphs.proxy { stepFLOPs += plan(proxy.graph).flops }
        let forwardPerImage = Double(plan(model.forwardGraph(inputShape: [1] + shape.dropFirst(), mode: .eval).graph).flops)
        let stepGFLOP = Double(stepFLOPs) * 1e-9

        var images = try imageCounts(recipe)
        let secondsPerStep: Double, method: String
        let workload = workloadKey(recipe)
        if stepGFLOP <= measureLimitGFLOP {
            let seconds = try measured[workload] ?? timeStep(recipe, model: model, shape: shape, classes: data.classes)
            measured[workload] = seconds
            (secondsPerStep, method) = (seconds, "measured step")
        } else {
            let key = lossKey(recipe) + "|\(shape)"
            let rate = try calibrated[key] ?? calibrate(recipe, shape: shape, classes: data.classes)
            calibrated[key] = rate
            (secondsPerStep, method) = (stepGFLOP / rate, String(format: "FLOP estimate at %.1f GFLOP/s", rate))
        }
        let rate = stepGFLOP / secondsPerStep * 1e9   // FLOP/s this workload runs at

        // Selection: clean + the selection attack (≈ 3 forward passes per step) on the val images.
        let selectSteps = recipe.eval.attacks.first { $0.name == recipe.eval.select.metric }?.steps ?? 0
        images.val = min(images.val, recipe.eval.examples ?? images.val)
        let validation = Double(images.val) * forwardPerImage * Double(1 + 3 * selectSteps) / rate
            / Double(max(recipe.eval.every, 1))
        // The table's cells: forward-pass equivalents per evaluated image and column.
        var forwardImages = 0.0
        for column in spec.columns where column.kind.isAccuracy {
            let examples = Double(min(column.examples ?? spec.examples ?? recipe.eval.examples ?? images.test, images.test))
            switch column.kind {
            case .clean: forwardImages += examples
            case .pgd20, .cw20, .transferPGD20, .transferCW20: forwardImages += examples * (1 + 3 * 20)
            // APGD-CE 100, APGD-T 9×100, FAB-T 9×100 (3 passes per gradient step), Square 5000
            // queries: an upper bound, as each runs only on the points still robust.
            case .aa: forwardImages += examples * (3 * (100 + 900 + 900) + 5000)
            default: break
            }
        }
        let checkpoints = spec.rows[run.row].checkpoint == .bestEver
            ? Double(2 + (recipe.eval.keepEvery > 0 ? recipe.schedule.epochs / recipe.eval.keepEvery : 0)) : 1
        let evaluation = spec.rows[run.row].hidden ? 0 : forwardImages * forwardPerImage * checkpoints / rate
        return RunCost(stepGFLOP: stepGFLOP, stepsPerEpoch: images.train / recipe.schedule.batch, secondsPerStep: secondsPerStep,
                       validationSecondsPerEpoch: validation, evaluationSeconds: evaluation, epochs: recipe.schedule.epochs,
                       method: method, cores: workerCount)
    }

    /// Train (after the validation carve-out), validation and test images: from the prepared
    /// dataset, else the published sizes of the standard ones.
    func imageCounts(_ recipe: Recipe) throws -> (train: Int, val: Int, test: Int) {
        if let dataset = try? Dataset.open(recipe.data.path) {
            let count = { (name: String) in dataset.manifest.splits[name]?.count ?? 0 }
            let ownVal = dataset.splitNames.contains("val")
            let train = count(recipe.data.splits.train) - (ownVal ? 0 : recipe.data.val)
            return (train, ownVal ? count("val") : recipe.data.val, count(recipe.data.splits.test))
        }
        let standard: [String: (Int, Int)] = ["cifar10": (50_000, 10_000), "cifar100": (50_000, 10_000), "svhn": (73_257, 26_032),
                                              "mnist": (60_000, 10_000), "fashion-mnist": (60_000, 10_000)]
        guard let (train, test) = standard[recipe.data.name.lowercased()] else {
            throw TableError("\(recipe.locations.location(of: "data.path")): no prepared dataset at '\(recipe.data.path)' "
                             + "and '\(recipe.data.name)' is not a standard dataset whose size is known")
        }
        return (train - recipe.data.val, recipe.data.val, test)
    }

    /// What decides a step's time: model, input, loss, attack, noise, AWP and batch.
    private func workloadKey(_ recipe: Recipe) -> String {
        var r = recipe
        r.seed = 0
        r.output = ""
        r.schedule.epochs = 1
        r.eval = EvalSpec(threat: r.threat)
        r.name = ""
        // The loss's parameters weigh its terms; they do not change the work of a step.
        r.loss.params = r.loss.params.mapValues { _ in 0 }
        return renderYAML(r)
    }

    private func lossKey(_ recipe: Recipe) -> String {
        var r = recipe
        r.model = ModelSpec()
        return workloadKey(r)
    }

    /// Seconds of one training step on random data: the fastest of four after a warm-up (on a
    /// shared machine the fastest is the one least slowed by the others' load).
    private func timeStep(_ recipe: Recipe, model: any Model, shape: [Int], classes: Int, timed: Int = 4) throws -> Double {
        let program = try StepProgram(recipe: recipe, model: model, inputShape: shape, classes: classes, compiler: fastCompiler)
        var state = TrainState(parameters: program.training.parameters, buffers: program.training.buffers, seed: 0)
        var rng = SystemRandomNumberGenerator()
        let images = (0..<shape.reduce(1, *)).map { _ in Float.random(in: 0...1, using: &rng) }
        let labels = (0..<shape[0]).map { _ in Int32.random(in: 0..<Int32(classes), using: &rng) }
        var times = [Double]()
        for _ in 0...timed {
            let start = DispatchTime.now().uptimeNanoseconds
            _ = try program.step(&state, images: images, labels: labels, lr: 0.01)
            state.batch += 1
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9)
        }
        return times.dropFirst().sorted().first!
    }

    /// GFLOP/s of a timed step of the same loss on the small CNN at the same image size (a
    /// batch of at most 32: the rate barely depends on it, the time of the measurement does).
    private func calibrate(_ recipe: Recipe, shape: [Int], classes: Int) throws -> Double {
        var recipe = recipe
        recipe.schedule.batch = min(recipe.schedule.batch, 32)
        let shape = [recipe.schedule.batch] + shape.dropFirst()
        let small = try ModelZoo.make(name: "small-cnn", options: [:], classes: classes, inputShape: shape)
        let graphs = try StepGraphs(recipe: recipe, model: small, inputShape: shape, classes: classes)
        var flops = plan(graphs.training.graph).flops
        if let attack = graphs.attack { flops += plan(attack).flops * recipe.threat.steps }
        if let target = graphs.target { flops += plan(target).flops }
        if let proxy = graphs.proxy { flops += plan(proxy.graph).flops }
        return Double(flops) * 1e-9 / (try timeStep(recipe, model: small, shape: shape, classes: classes, timed: 2))
    }
}
