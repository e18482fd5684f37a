import Attacks
import Foundation
import Graph
import Recipe
import Training

/// A random direction in weight space normalised filter by filter (Li et al. 2018): for
/// every parameter of two or more dimensions, Gaussian values whose slice along the first
/// dimension (a convolution's output channel, a linear layer's output row) is rescaled to
/// that slice's norm in the weights. One-dimensional parameters — biases and BatchNorm's
/// scale and shift — get zero (Li et al. leave them unperturbed).
public func filterNormalizedDirection(weights: [String: [Float]], shapes: [String: [Int]],
                                      rng: inout SplitMix64) -> [String: [Float]] {
    var direction = [String: [Float]]()
    for name in weights.keys.sorted() {
        let w = weights[name]!
        guard let shape = shapes[name], shape.count >= 2, let filters = shape.first, filters > 0 else {
            direction[name] = [Float](repeating: 0, count: w.count)
            continue
        }
        var d = (0..<w.count).map { _ in Float(rng.normal()) }
        let size = w.count / filters
        for f in 0..<filters {
            let range = (f * size)..<((f + 1) * size)
            let weightNorm = sqrt(w[range].reduce(0) { $0 + Double($1) * Double($1) })
            let directionNorm = sqrt(d[range].reduce(0) { $0 + Double($1) * Double($1) })
            let scale = directionNorm > 0 ? Float(weightNorm / directionNorm) : 0
            for i in range { d[i] *= scale }
        }
        direction[name] = d
    }
    return direction
}

/// The adversarial loss landscape in weight space (Li et al. 2018's filter-normalised
/// directions; adversarial examples regenerated at every perturbed point, as in Wu et al.
/// 2020's AWP figure): at w + α·d₁ (+ β·d₂), PGD under the recipe's threat (its ε, step and
/// steps; cross-entropy; its random start, drawn alike at every point) crafts adversarial
/// images of the chosen test images, and the mean cross-entropy there is the value. A 1-D
/// curve along d₁ and a 2-D grid over (d₁, d₂). BN buffers stay as trained (eval mode).
public func weightLandscape(recipe: Recipe, checkpoint: String, run: String, options: LandscapeOptions,
                            progress: @escaping (LandscapeProgress) -> Void = { _ in }) throws -> LandscapeGrid {
    // One batch holds every image: the landscape's cost is one PGD per point.
    let batch = max(1, options.images)
    let loaded = try LoadedRun(recipe: recipe, checkpoint: checkpoint, batch: batch, splitName: options.split)
    let model = loaded.model
    let indices = chooseImages(count: options.images, of: loaded.split.count, seed: options.seed)
    guard indices.count == batch else {
        throw TrainingError("--images \(options.images): the split '\(loaded.split.name)' has only \(loaded.split.count) images")
    }
    let (clean, labels) = loaded.images(indices)
    var rng = keyedGenerator(seed: options.seed, epoch: -3, batch: 0, purpose: 23)
    let first = filterNormalizedDirection(weights: loaded.parameters, shapes: loaded.shapes, rng: &rng)
    let second = filterNormalizedDirection(weights: loaded.parameters, shapes: loaded.shapes, rng: &rng)
    let threat = threatModel(recipe.threat)
    let attack = PGD(name: "landscape", loss: .crossEntropy, threat: threat, steps: recipe.threat.steps,
                     start: recipe.threat.randomStart ? .uniform(norm: threat.norm, epsilon: threat.epsilon) : .clean)
    // Compiled before any weight is changed: a graph compiled later would start from the
    // checkpoint's weights, not from the perturbed ones updateWeights writes.
    _ = try model.stepGraph(attack.loss, attack.threat)
    let radius = options.radius ?? 1
    let curveAlphas = linspace(radius, options.curvePoints)
    let grid = linspace(radius, options.points)
    let clock = ProgressClock(total: curveAlphas.count + grid.count * grid.count, report: progress)
    var done = 0

    func lossesAt(_ alpha: Double, _ beta: Double) throws -> (adversarial: Double, clean: Double) {
        try model.updateWeights { name, buffer in
            guard let w = loaded.parameters[name], let d1 = first[name], let d2 = second[name] else { return }
            let (a, b) = (Float(alpha), Float(beta))
            for i in buffer.indices { buffer[i] = w[i] + a * d1[i] + b * d2[i] }
        }
        var attackRNG = keyedGenerator(seed: options.seed, epoch: -3, batch: 1, purpose: 24)
        let adversarial = try attack.perturb(model, images: clean, labels: labels, rng: &attackRNG)
        let k = model.classes
        let robust = crossEntropy(try model.logits(adversarial), labels, classes: k)
        let natural = crossEntropy(try model.logits(clean), labels, classes: k)
        done += 1
        clock.tick(done)
        return (robust.reduce(0, +) / Double(batch), natural.reduce(0, +) / Double(batch))
    }

    var curve = [(alpha: Double, loss: Double, clean: Double)]()
    for alpha in curveAlphas {
        let (adversarial, natural) = try lossesAt(alpha, 0)
        curve.append((alpha, adversarial, natural))
    }
    var loss = [[Double]](), cleanLoss = [[Double]]()
    for beta in grid {
        var row = [Double](), cleanRow = [Double]()
        for alpha in grid {
            let (adversarial, natural) = try lossesAt(alpha, beta)
            row.append(adversarial)
            cleanRow.append(natural)
        }
        loss.append(row)
        cleanLoss.append(cleanRow)
    }
    try model.updateWeights { name, buffer in
        if let w = loaded.parameters[name] { _ = buffer.update(fromContentsOf: w) }
    }
    return LandscapeGrid(run: run, alphas: grid, betas: grid, loss: loss, cleanLoss: cleanLoss, curve: curve,
                         imageIndices: indices, epsilon: threat.epsilon)
}

/// Scalars a table can carry: the adversarial loss's rise along d₁ at half the radius and at
/// the radius (mean of both signs), and its largest rise on the 2-D grid.
public func weightFlatness(_ grid: LandscapeGrid) -> [String: Double] {
    let curve = grid.curve ?? []
    let centre = curve.isEmpty ? grid.centre : curve[curve.count / 2].loss
    let radius = curve.last?.alpha ?? 0
    func rise(at r: Double) -> Double {
        let nodes = curve.filter { abs(abs($0.alpha) - r) < 1e-9 * max(1, radius) }
        return nodes.isEmpty ? .nan : nodes.map(\.loss).reduce(0, +) / Double(nodes.count) - centre
    }
    return [
        "centre_adversarial_loss": centre,
        "radius": radius,
        "increase_at_half_radius": rise(at: radius / 2),
        "increase_at_radius": rise(at: radius),
        "max_increase_2d": (grid.loss.flatMap { $0 }.max() ?? centre) - grid.centre,
    ]
}
