import Attacks
import Foundation
import Graph
import Recipe
import Training

/// The loss landscape in input space of Engstrom et al. (2018), the paper's Figure 2: for
/// test images x chosen by seed, the mean cross-entropy at
///
///     clamp(x + α · sign ∇ₓ loss(x) + β · r, 0, 1)
///
/// over a grid of (α, β) in [−radius, radius]², with r a Rademacher (±1 per pixel) direction
/// drawn per image by the seed. Each image has its own directions; the grid is shared. The
/// model runs in eval mode (BN with its running statistics), compiled once; every grid
/// point of every image is one row of a batch.
public func inputLandscape(recipe: Recipe, checkpoint: String, run: String, options: LandscapeOptions,
                           progress: @escaping (LandscapeProgress) -> Void = { _ in }) throws -> LandscapeGrid {
    let batch = 128
    let loaded = try LoadedRun(recipe: recipe, checkpoint: checkpoint, batch: batch, splitName: options.split)
    let model = loaded.model
    let indices = chooseImages(count: options.images, of: loaded.split.count, seed: options.seed)
    guard !indices.isEmpty else { throw TrainingError("the split '\(loaded.split.name)' has no images") }
    let (clean, labels) = loaded.images(indices)
    let d = loaded.split.pixelsPerImage
    let epsilon = recipe.threat.eps.value
    let radius = options.radius ?? 2 * epsilon
    let grid = linspace(radius, options.points)

    // sign ∇ₓ loss per image: the loss graph runs on full batches, so images go in chunks, the
    // last chunk padded with copies of its first row.
    var gradientSign = [Float](repeating: 0, count: clean.count)
    for start in stride(from: 0, to: indices.count, by: batch) {
        let rows = Array(start..<min(start + batch, indices.count))
        let padded = rows + Array(repeating: rows[0], count: batch - rows.count)
        var x = [Float](), y = [Int32]()
        for r in padded { x += clean[(r * d)..<((r + 1) * d)]; y.append(labels[r]) }
        let gradient = try model.lossAndGradient(.crossEntropy, at: x, labels: y).gradient
        for (k, r) in rows.enumerated() {
            for p in 0..<d { gradientSign[r * d + p] = gradient[k * d + p] > 0 ? 1 : gradient[k * d + p] < 0 ? -1 : 0 }
        }
    }
    var rng = keyedGenerator(seed: options.seed, epoch: -3, batch: 0, purpose: 22)
    let rademacher = (0..<clean.count).map { _ in Float(rng.next() & 1 == 0 ? -1 : 1) }

    // Rows: (grid point, image) pairs in order; each batch of rows is one forward pass.
    let points = grid.count * grid.count
    let totalRows = points * indices.count
    var sums = [Double](repeating: 0, count: points)
    let clock = ProgressClock(total: points, report: progress)
    var rowInput = [Float](repeating: 0, count: batch * d)
    var rowLabels = [Int32](repeating: 0, count: batch)
    for start in stride(from: 0, to: totalRows, by: batch) {
        let count = min(batch, totalRows - start)
        for k in 0..<batch {
            let row = start + min(k, count - 1)
            let (point, image) = (row / indices.count, row % indices.count)
            let (alpha, beta) = (Float(grid[point % grid.count]), Float(grid[point / grid.count]))
            for p in 0..<d {
                let i = image * d + p
                rowInput[k * d + p] = min(max(clean[i] + alpha * gradientSign[i] + beta * rademacher[i], 0), 1)
            }
            rowLabels[k] = labels[image]
        }
        let losses = crossEntropy(try model.logits(rowInput), rowLabels, classes: model.classes)
        for k in 0..<count { sums[(start + k) / indices.count] += losses[k] }
        clock.tick((start + count) / indices.count)
    }
    let means = sums.map { $0 / Double(indices.count) }
    let loss = (0..<grid.count).map { j in Array(means[(j * grid.count)..<((j + 1) * grid.count)]) }
    return LandscapeGrid(run: run, alphas: grid, betas: grid, loss: loss, cleanLoss: nil, curve: nil,
                         imageIndices: indices, epsilon: epsilon)
}

/// Scalars a table can carry: how much the loss rises within the threat's ε around the
/// unperturbed point (grid nodes with max(|α|, |β|) ≤ ε).
public func inputFlatness(_ grid: LandscapeGrid) -> [String: Double] {
    var within = [Double]()
    for (j, beta) in grid.betas.enumerated() {
        for (i, alpha) in grid.alphas.enumerated() where max(abs(alpha), abs(beta)) <= grid.epsilon * (1 + 1e-9) {
            within.append(grid.loss[j][i])
        }
    }
    let centre = grid.centre
    let row = grid.loss[grid.betas.count / 2]
    let alongGradient = zip(grid.alphas, row).min { abs($0.0 - grid.epsilon) < abs($1.0 - grid.epsilon) }!
    return [
        "centre_loss": centre,
        "max_increase_within_eps": (within.max() ?? centre) - centre,
        "mean_increase_within_eps": within.reduce(0, +) / Double(max(within.count, 1)) - centre,
        "increase_along_gradient_sign_at_eps": alongGradient.1 - centre,
        "alpha_of_that_node": alongGradient.0,
        "eps": grid.epsilon,
    ]
}
