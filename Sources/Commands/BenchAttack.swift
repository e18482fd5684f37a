import ArgumentParser
import Attacks
import Executor
import Foundation
import Graph
import Models
import Recipe
import Training

/// An evaluation attack as a benchmark workload: one batch of random images in [0, 1] with
/// the model's own predictions as labels, so every point starts correctly classified and the
/// attack spends its whole budget on the whole batch (AutoAttack attacks only the points
/// still robust; with this labelling that is all of them, on both sides of a comparison).
/// Weights are the model's initializers (seeded); eval-mode BN, as `rat eval` runs.
///   pgd20    20 steps of ℓ∞ PGD (ε 8/255, α 2/255, uniform start): 20 gradient passes
///   apgd-ce  APGD with cross-entropy, 100 iterations, 1 restart: 101 gradient passes + 1 forward
final class BenchAttack {
    static let names = ["pgd20", "apgd-ce"]

    let attacked: AttackedModel
    let attack: any Attack
    let images: [Float]       // [N, 3, 32, 32] uniform in [0, 1]
    let labels: [Int32]       // [N]: the model's predictions on `images`

    init(model: any Model, attack name: String, batch: Int, classes: Int) throws {
        // The recipe's threat defaults are the paper's ℓ∞ 8/255, step 2/255.
        let recipe = try RecipeLoader.load(text: "eval: {attacks: [\(name)], select: {metric: clean}}", file: "<bench \(name)>", requireSections: false)
        guard let components = recipe.eval.attacks.first?.attacks(classes: classes), components.count == 1 else {
            throw ValidationError("bench: '\(name)' is not a single attack")
        }
        attack = components[0]
        let shape = [batch, 3, 32, 32]
        let attacked = try AttackedModel(model: model, inputShape: shape, classes: classes, compiler: fastCompiler)
        let forward = model.forwardGraph(inputShape: shape, mode: .eval)
        let state = TrainState(parameters: forward.parameters, buffers: forward.buffers, seed: 7)
        try attacked.load(weights: state.parameters.merging(state.buffers) { a, _ in a })
        var rng = SplitMix64(seed: 7)
        let images = (0..<shape.reduce(1, *)).map { _ in Float(rng.uniform()) }
        let logits = try attacked.logits(images)
        labels = (0..<batch).map { Int32(attacked.predictedClass(logits, row: $0)) }
        (self.attacked, self.images) = (attacked, images)
    }

    /// One batch attacked from scratch.
    func run() throws {
        var rng = SplitMix64(seed: 11)
        _ = try attack.perturb(attacked, images: images, labels: labels, rng: &rng)
    }

    /// Times `batches` batches after one warm-up batch (which also compiles the attack's graphs)
    /// and prints the median as ms per batch and images per second.
    func report(model: String, batches: Int, json: Bool) throws {
        try run()
        var times = [Double]()
        for _ in 0..<batches {
            let start = DispatchTime.now().uptimeNanoseconds
            try run()
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-6)
        }
        let (median, minimum) = (times.sorted()[times.count / 2], times.min()!)
        let batch = labels.count
        let perSecond = Double(batch) / (median * 1e-3)
        if json {
            print(String(format: "{\"model\":\"%@\",\"workload\":\"%@\",\"batch\":%d,\"median_ms\":%.3f,\"min_ms\":%.3f,\"images_per_s\":%.3f,\"batches\":%d,\"peak_rss_mb\":%.1f}",
                         model, attack.name, batch, median, minimum, perSecond, batches, peakResidentMegabytes()))
        } else {
            print(String(format: "%@ %@ (batch %d): %.1f ms/batch (median of %d, min %.1f), %.1f images/s, peak RSS %.0f MB",
                         model, attack.name, batch, median, batches, minimum, perSecond, peakResidentMegabytes()))
        }
    }
}
