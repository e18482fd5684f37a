import Attacks
import Executor
import Foundation
import Graph
import Loader
import Models
import Recipe
import Training

/// Settings shared by both landscapes. Defaults are small enough for the quickstart's
/// small CNN to take minutes on 2 cores.
public struct LandscapeOptions: Sendable {
    /// Test images, chosen by `seed` among the split's.
    public var images: Int
    /// Grid nodes per side of the 2-D map (made odd so that the unperturbed point is a node).
    public var points: Int
    /// Nodes of the 1-D curve (weights landscape; odd as well).
    public var curvePoints: Int
    /// Half-width of the grid: input units for `--input` (nil: 2ε), filter-normalised units for `--weights` (nil: 1).
    public var radius: Double?
    public var seed: UInt64
    /// The split the images come from (nil: the recipe's eval.split).
    public var split: String?

    public init(images: Int, points: Int, curvePoints: Int = 21, radius: Double? = nil, seed: UInt64 = 0, split: String? = nil) {
        self.images = images
        self.points = points | 1
        self.curvePoints = curvePoints | 1
        self.radius = radius
        self.seed = seed
        self.split = split
    }
}

/// Mean loss over a run's chosen images on a grid: loss[j][i] at (alphas[i], betas[j]);
/// for the weights landscape also a 1-D curve along the first direction.
public struct LandscapeGrid: Sendable {
    public var run: String
    public var alphas: [Double]
    public var betas: [Double]
    public var loss: [[Double]]
    /// The same points' loss on the clean images (weights landscape only).
    public var cleanLoss: [[Double]]?
    /// (α, adversarial loss, clean loss) along the first direction (weights landscape only).
    public var curve: [(alpha: Double, loss: Double, clean: Double)]?
    /// Indices into the split of the images the loss is averaged over.
    public var imageIndices: [Int]
    /// The threat's ε (input units).
    public var epsilon: Double

    /// The loss at the unperturbed point (the grid's centre node).
    public var centre: Double { loss[betas.count / 2][alphas.count / 2] }
}

/// A run's model with its checkpoint's weights (eval-mode BN), compiled once for a batch of `batch`.
struct LoadedRun {
    let setup: RunSetup
    let model: AttackedModel
    let parameters: [String: [Float]]
    let shapes: [String: [Int]]
    let split: SplitData

    init(recipe: Recipe, checkpoint: String, batch: Int, splitName: String?) throws {
        setup = try RunSetup(recipe: recipe)
        let name = splitName ?? recipe.eval.split.rawValue
        split = try setup.split(name, key: "eval.split")
        let state = try setup.evaluationState(checkpoint: checkpoint)
        parameters = state.parameters
        shapes = state.shapes
        var shape = setup.inputShape
        shape[0] = batch
        model = try AttackedModel(model: setup.model, inputShape: shape, classes: setup.classes, compiler: fastCompiler)
        try model.load(weights: state.parameters.merging(state.buffers) { a, _ in a })
    }

    /// The images [n·D] in [0, 1] and labels of `indices`.
    func images(_ indices: [Int]) -> (pixels: [Float], labels: [Int32]) {
        let d = split.pixelsPerImage
        var pixels = [Float]()
        pixels.reserveCapacity(indices.count * d)
        for i in indices { pixels += split.pixels[(i * d)..<((i + 1) * d)].map { Float($0) / 255 } }
        return (pixels, indices.map { Int32(split.labels[$0]) })
    }
}

/// `count` distinct indices below `total`, drawn by `seed` (a partial Fisher–Yates shuffle).
public func chooseImages(count: Int, of total: Int, seed: UInt64) -> [Int] {
    var order = Array(0..<total)
    var rng = keyedGenerator(seed: seed, epoch: -3, batch: 0, purpose: 21)
    for i in 0..<min(count, total) { order.swapAt(i, i + Int(rng.next() % UInt64(total - i))) }
    return Array(order.prefix(min(count, total)))
}

/// n evenly spaced values from −r to r.
func linspace(_ r: Double, _ n: Int) -> [Double] { (0..<n).map { -r + 2 * r * Double($0) / Double(max(n - 1, 1)) } }

/// Per-row cross-entropy of logits [N, K] (log-sum-exp in Double) with the labels.
func crossEntropy(_ logits: [Float], _ labels: [Int32], classes k: Int) -> [Double] {
    labels.indices.map { i in
        let row = logits[(i * k)..<((i + 1) * k)].map(Double.init)
        let top = row.max()!
        return top + log(row.reduce(0) { $0 + exp($1 - top) }) - row[Int(labels[i])]
    }
}

/// Elapsed time and an estimate of what is left, for a progress line.
public struct LandscapeProgress: Sendable {
    public var done: Int
    public var total: Int
    public var secondsLeft: Double
    public var description: String {
        "\(done)/\(total) grid points, ~\(Int(secondsLeft.rounded())) s left"
    }
}

/// Counts finished points and extrapolates the time per point.
struct ProgressClock {
    let total: Int
    let report: (LandscapeProgress) -> Void
    let started = Date()
    func tick(_ done: Int) {
        let elapsed = Date().timeIntervalSince(started)
        report(LandscapeProgress(done: done, total: total, secondsLeft: done > 0 ? elapsed / Double(done) * Double(total - done) : 0))
    }
}
