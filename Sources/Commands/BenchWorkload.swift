import ArgumentParser
import Executor
import Foundation
import Graph
import Kernels
import Models
import Recipe
import Training

/// One benchmark workload of one model: the same compiled step that `rat train` runs
/// (`StepProgram`), driven by a small recipe, on random data with 10 classes.
///   plain    forward + backward of clean CE, SGD-momentum update
///   trades   10-step KL-PGD (ε 8/255, α 2/255, eval-mode model), TRADES loss, update
///   taylor1  trades + the first-order Taylor term (η 0.3), noise σ = 0.01 on every parameter
///   taylor12 trades + first and second-order terms (η 0.2), same noise
final class BenchWorkload {
    static let recipes: [(name: String, yaml: String)] = [
        ("plain", """
            noise: {enabled: false}
            loss: {terms: [{name: natural, kind: ce, on: clean}]}
            """),
        ("trades", """
            noise: {enabled: false}
            loss:
              params: {beta: 6}
              terms: [{name: natural, kind: ce, on: clean}, {name: robust, kind: kl, on: [clean, adversarial], weight: beta}]
            """),
        ("taylor1", """
            noise: {enabled: true, sigma: 0.01, params: ["*"]}
            loss:
              params: {beta: 6, eta: 0.3}
              terms: [{name: natural, kind: ce, on: clean}, {name: robust, kind: kl, on: [clean, adversarial], weight: beta},
                      {name: taylor1, kind: kl, on: ["J(clean)", "J(adversarial)"], weight: eta}]
            """),
        ("taylor12", """
            noise: {enabled: true, sigma: 0.01, params: ["*"]}
            loss:
              params: {beta: 6, eta: 0.2}
              terms: [{name: natural, kind: ce, on: clean}, {name: robust, kind: kl, on: [clean, adversarial], weight: beta},
                      {name: taylor1, kind: kl, on: ["J(clean)", "J(adversarial)"], weight: eta},
                      {name: taylor2, kind: kl, on: ["H(clean)", "H(adversarial)"], weight: eta / 2}]
            """),
    ]
    static var names: [String] { recipes.map(\.name) }

    let program: StepProgram
    var state: TrainState
    let images: [Float]       // [N, 3, 32, 32] uniform in [0, 1]
    let labels: [Int32]       // [N]

    init(model: any Model, workload: String, batch: Int, classes: Int, compiler: @escaping GraphCompiler = fastCompiler) throws {
        guard let yaml = Self.recipes.first(where: { $0.name == workload })?.yaml else {
            throw ValidationError("unknown workload '\(workload)'; known: \((Self.names + BenchAttack.names).joined(separator: ", "))")
        }
        // Threat model, attack and optimizer are the recipe defaults: the paper's settings.
        let recipe = try RecipeLoader.load(text: yaml, file: "<bench \(workload)>", requireSections: false)
        let shape = [batch, 3, 32, 32]
        program = try StepProgram(recipe: recipe, model: model, inputShape: shape, classes: classes, compiler: compiler)
        state = TrainState(parameters: program.training.parameters, buffers: program.training.buffers, seed: 7)
        var rng = SplitMix64(seed: 7)
        images = (0..<shape.reduce(1, *)).map { _ in Float(rng.uniform()) }
        labels = (0..<batch).map { _ in Int32(rng.next() % UInt64(classes)) }
    }

    /// One training step (attack, loss, update), as `rat train` runs it.
    func step() throws {
        _ = try program.step(&state, images: images, labels: labels, lr: 0.1)
        state.batch += 1
    }

    var executors: [Executor] { program.graphs.compactMap { ($0.graph as? FastGraph)?.executor } }

    /// FLOPs of one step, counted from the plans.
    var flopsPerStep: Int {
        program.graphs.reduce(0) { $0 + (($1.graph as? FastGraph)?.executor.plan.flops ?? 0) * $1.runsPerStep }
    }

    var arenaBytes: Int { executors.reduce(0) { $0 + $1.plan.arenaBytes } }

    /// The forward convolutions of the step's plans by shape, with their FLOPs per step
    /// (what the bench's ceiling weighs each shape's best throughput by).
    var convolutionShapes: [(shape: ConvShape, flops: Int)] {
        var flops = [ConvShape: Int]()
        for (graph, runs) in program.graphs {
            guard let executor = (graph as? FastGraph)?.executor else { continue }
            for step in executor.plan.steps {
                guard case .primitive(.conv2d(let c)) = step.operation else { continue }
                let (x, w) = (step.operands[0].shape, step.operands[1].shape)
                let s = ConvShape(n: x[0], c: x[1], h: x[2], w: x[3], o: w[0], k: w[2], stride: c.stride,
                                  padding: c.padding, groups: c.groups)
                flops[s, default: 0] += step.flops * runs
            }
        }
        return flops.map { ($0.key, $0.value) }.sorted { $0.flops > $1.flops }
    }

    /// The largest single convolution of the step's plans as a batch-wide gemm: M = O, N = N·OH·OW, K = C·K·K.
    var dominantGemm: (m: Int, n: Int, k: Int) {
        var best = (flops: 0, m: 256, n: 256, k: 256)
        for step in executors.flatMap(\.plan.steps) where step.kind == .conv2d && step.flops > best.flops {
            guard case .primitive = step.operation else { continue }
            let (w, y) = (step.operands[1].shape, step.output.shape)
            best = (step.flops, w[0], y[0] * y[2] * y[3], w[1] * w[2] * w[3])
        }
        return (best.m, best.n, best.k)
    }
}
