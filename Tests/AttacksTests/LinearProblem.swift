import Attacks
import Executor
import Graph
import Models

/// logits = W·flatten(x) + b: a classifier whose attacks have closed-form answers.
struct LinearClassifier: Model {
    var classes: Int
    var name: String { "linear" }
    func logits(_ x: Tensor, _ scope: Scope) -> Tensor {
        let perExample = x.shape.dropFirst().reduce(1, *)
        return linear(x.reshaped([x.shape[0], perExample]), scope, "fc", out: classes, isClassifier: true)
    }
}

/// A linear classifier with Gaussian weights W [K, D] and bias b = −W·½ (logits centred at
/// the middle of the box), and a batch of points uniform in [0.3, 0.7]ᴰ labelled with their
/// predicted class, so every point is correctly classified and its minimal perturbations
/// (margin over the dual norm of w_y − w_t) stay well inside [0, 1].
struct LinearProblem {
    let classes: Int, batch: Int, imageShape: [Int]
    let weight: [Double]   // [K, D]
    let bias: [Double]     // [K]
    let images: [Float]    // [N, D]
    let labels: [Int32]    // [N]

    var imageSize: Int { imageShape.reduce(1, *) }

    /// `spread`: the points are uniform in [½ − spread/2, ½ + spread/2]ᴰ.
    init(classes: Int, batch: Int, imageShape: [Int] = [1, 4, 4], spread: Double = 0.4, seed: UInt64) {
        self.classes = classes
        self.batch = batch
        self.imageShape = imageShape
        let d = imageShape.reduce(1, *)
        var rng = SplitMix64(seed: seed)
        let w = (0..<(classes * d)).map { _ in rng.normal() }
        let b = (0..<classes).map { k in -0.5 * (0..<d).reduce(0) { $0 + w[k * d + $1] } }
        let x = (0..<(batch * d)).map { _ in Float(0.5 + spread * (rng.uniform() - 0.5)) }
        labels = (0..<batch).map { row in
            var z = b
            for k in 0..<classes {
                for j in 0..<d { z[k] += w[k * d + j] * Double(x[row * d + j]) }
            }
            return Int32(z.indices.max { z[$0] < z[$1] }!)
        }
        (weight, bias, images) = (w, b, x)
    }

    /// The exact logits of row `row` of `points` (in Double).
    func logits(_ points: [Float], row: Int) -> [Double] {
        let d = imageSize
        var z = bias
        for k in 0..<classes {
            for j in 0..<d { z[k] += weight[k * d + j] * Double(points[row * d + j]) }
        }
        return z
    }

    /// Classes of row `row` of the clean images by decreasing logit.
    func ranking(_ row: Int) -> [Int] {
        let z = logits(images, row: row)
        return (0..<classes).sorted { z[$0] > z[$1] }
    }

    /// The smallest perturbation (in `norm`) moving row `row` onto the boundary z_y = z_t,
    /// ignoring the box: (z_y − z_t) / ‖w_y − w_t‖_dual.
    func distance(row: Int, to t: Int, norm: Norm) -> Double {
        let (d, y) = (imageSize, Int(labels[row]))
        let z = logits(images, row: row)
        let difference: [Double] = (0..<d).map { weight[y * d + $0] - weight[t * d + $0] }
        let dual = norm == .linf ? difference.reduce(0) { $0 + abs($1) } : difference.reduce(0) { $0 + $1 * $1 }.squareRoot()
        return (z[y] - z[t]) / dual
    }

    /// The smallest perturbation onto the boundary z_y = z_t that keeps the point in [0, 1]ᴰ,
    /// by bisection (infinity if the box does not reach the boundary). Each coordinate moves
    /// towards the boundary by min(ρ, room) (ℓ∞) or min(λ|w_i|, room) (ℓ2), room being its
    /// distance to the box edge on that side.
    func boxedDistance(row: Int, to t: Int, norm: Norm) -> Double {
        let (d, y) = (imageSize, Int(labels[row]))
        let z = logits(images, row: row)
        let gap = z[y] - z[t]
        let w: [Double] = (0..<d).map { weight[t * d + $0] - weight[y * d + $0] }
        let room: [Double] = (0..<d).map { w[$0] > 0 ? 1 - Double(images[row * d + $0]) : Double(images[row * d + $0]) }
        func moves(_ parameter: Double) -> [Double] {
            (0..<d).map { min(norm == .linf ? parameter : parameter * abs(w[$0]), room[$0]) }
        }
        func progress(_ parameter: Double) -> Double { zip(w, moves(parameter)).reduce(0) { $0 + abs($1.0) * $1.1 } }
        var (low, high) = (0.0, 1.0)
        while progress(high) < gap {
            if high > 1e12 { return .infinity }
            high *= 2
        }
        for _ in 0..<200 {
            let middle = (low + high) / 2
            if progress(middle) >= gap { high = middle } else { low = middle }
        }
        let step = moves(high)
        return norm == .linf ? step.max()! : step.reduce(0) { $0 + $1 * $1 }.squareRoot()
    }

    /// The smallest perturbation that changes row `row`'s prediction: the nearest boundary.
    func minimalDistance(row: Int, norm: Norm) -> Double {
        (0..<classes).filter { $0 != Int(labels[row]) }.map { distance(row: row, to: $0, norm: norm) }.min()!
    }

    /// ‖points_row − images_row‖ in `norm`.
    func perturbationNorm(_ points: [Float], row: Int, norm: Norm) -> Double {
        let d = imageSize
        let delta: [Double] = (0..<d).map { Double(points[row * d + $0]) - Double(images[row * d + $0]) }
        return norm == .linf ? delta.reduce(0) { max($0, abs($1)) } : delta.reduce(0) { $0 + $1 * $1 }.squareRoot()
    }

    func isCorrect(_ points: [Float], row: Int) -> Bool {
        let z = logits(points, row: row)
        return z.indices.max { z[$0] < z[$1] }! == Int(labels[row])
    }

    func attackedModel() throws -> AttackedModel {
        let model = try AttackedModel(model: LinearClassifier(classes: classes), inputShape: [batch] + imageShape,
                                      classes: classes, compiler: fastCompiler)
        try model.load(weights: ["fc.weight": weight.map { Float($0) }, "fc.bias": bias.map { Float($0) }])
        return model
    }
}
