import Foundation
import Graph
import Models
import Objectives
import Recipe

/// The compiled graphs of one training step and the order they run in:
///   1. draw u ~ N(0, σ²) on the noisy parameters (keyed by seed, epoch and batch);
///   2. attack on w + u (if the recipe lets the attack see the noise), eval-mode BN unless
///      the recipe says otherwise: clean target logits once, then k projected steps;
///   3. the loss graph at w with tangent u: terms, total, ∂total/∂w, clean BN statistics;
///   4. SGD with momentum and weight decay; BN running statistics from the clean pass.
/// Inputs are written in place into each graph's storage; the attack loop copies only the
/// adversarial batch between its runs.
public final class StepProgram {
    public let recipe: Recipe
    public let model: any Model
    public let inputShape: [Int]      // [N, C, H, W]
    public let classes: Int
    public let training: TrainingGraph
    public let loss: any CompiledGraph
    public let attack: (any CompiledGraph)?
    /// Clean logits for the KL attack's target.
    public let target: (any CompiledGraph)?
    /// Parameters that get noise (empty when the recipe has none).
    public let noisy: [ParameterInfo]

    public init(recipe: Recipe, model: any Model, inputShape: [Int], classes: Int, compiler: GraphCompiler) throws {
        self.recipe = recipe
        self.model = model
        self.inputShape = inputShape
        self.classes = classes
        let terms = try lossTerms(recipe)
        let selected: (String) -> Bool = { name in recipe.noise.params.contains { globMatches($0, name) } }
        training = buildTrainingGraph(model: model, inputShape: inputShape, classes: classes, terms: terms,
                                      noiseParameters: selected)
        if !training.noiseParameters.isEmpty && !recipe.noise.isActive {
            throw TrainingError("\(recipe.locations.location(of: "noise")): the loss uses Taylor views J(·)/H(·), "
                                + "which need weight noise, but noise is disabled (noise.enabled/sigma)")
        }
        noisy = recipe.noise.isActive ? training.parameters.filter { selected($0.name) } : []
        loss = try compiler(training.graph)
        if terms.contains(where: { $0.views.contains { $0.input == .adversarial } }) {
            let objective: AttackObjective = switch recipe.attack.objective {
            case .kl: .kl
            case .ce: .crossEntropy
            case .cw: .carliniWagner(kappa: recipe.attack.kappa)
            }
            let mode: NormalizationMode = recipe.attack.modelMode == .eval ? .eval : .train
            attack = try compiler(buildAttackStepGraph(model: model, inputShape: inputShape, classes: classes,
                                                       objective: objective, threat: threatModel(recipe.threat), mode: mode))
            target = objective == .kl ? try compiler(buildLogitsGraph(model: model, inputShape: inputShape, mode: mode)) : nil
        } else {
            attack = nil
            target = nil
        }
    }

    /// The compiled graphs with how many times each runs per step (for FLOP counts, profiles).
    public var graphs: [(graph: any CompiledGraph, runsPerStep: Int)] {
        [(loss, 1)] + (attack.map { [($0, recipe.threat.steps)] } ?? []) + (target.map { [($0, 1)] } ?? [])
    }

    /// What one step reports.
    public struct Report {
        public var total: Double
        public var terms: [String: Double]
    }

    /// Runs one step on a batch (images [N,C,H,W] in [0,1], labels [N]) and, if `update`,
    /// applies it to `state`. Afterwards the graphs still hold this step's inputs and
    /// outputs (noise, adversarial batch, views, gradients) for inspection.
    public func step(_ state: inout TrainState, images: [Float], labels: [Int32], lr: Double,
                     update: Bool = true) throws -> Report {
        let seed = UInt64(bitPattern: Int64(recipe.seed))
        let onehot = oneHot(labels)

        // 1. Noise, drawn into the loss graph's tangent inputs when it has them.
        var noiseRng = keyedGenerator(seed: seed, epoch: state.epoch, batch: state.batch, purpose: 1)
        var noise = [String: [Float]]()
        for p in noisy { noise[p.name] = .normal(count: p.count, scale: recipe.noise.sigma, &noiseRng) }
        for name in training.noiseParameters { try loss.setInput("noise/\(name)", noise[name]!) }

        // 2. Attack.
        var adversarial = images
        if let attack {
            let seesNoise = recipe.noise.attackSeesNoise
            for graph in [attack] + (target.map { [$0] } ?? []) {
                for p in training.parameters {
                    let w = try graph.input(p.name)
                    _ = w.update(fromContentsOf: state.parameters[p.name]!)
                    if seesNoise, let u = noise[p.name] { for i in w.indices { w[i] += u[i] } }
                }
                for (name, values) in state.buffers where graph.declares(name) { try graph.setInput(name, values) }
            }
            try attack.setInput("input/clean", images)
            try attack.setInput("label", onehot)
            if let target {
                try target.setInput("input", images)
                try target.run()
                try attack.setInput("target", target.output(0))
            }
            var initRng = keyedGenerator(seed: seed, epoch: state.epoch, batch: state.batch, purpose: 2)
            let x = try attack.input("input/adversarial")
            _ = x.update(fromContentsOf: startingPoint(images, count: inputShape[0], attackStart(recipe.threat), &initRng))
            for _ in 0..<recipe.threat.steps {
                try attack.run()
                _ = x.update(fromContentsOf: attack.output(0))
            }
            adversarial = Array(x)
        }

        // 3. Loss and gradients at w.
        for p in training.parameters { try loss.setInput(p.name, state.parameters[p.name]!) }
        if loss.declares("input/clean") { try loss.setInput("input/clean", images) }
        if loss.declares("input/adversarial") { try loss.setInput("input/adversarial", adversarial) }
        try loss.setInput("label", onehot)
        for term in training.terms { try loss.setInput("weight/\(term.name)", [Float(term.weight)]) }
        try loss.run()

        let total = Double(loss.output(training.layout.total)[0])
        var terms = [String: Double]()
        for (k, term) in training.terms.enumerated() { terms[term.name] = Double(loss.output(training.layout.terms.lowerBound + k)[0]) }
        guard total.isFinite else {
            let culprit = training.terms.first { !(terms[$0.name] ?? .nan).isFinite }?.name ?? "total"
            throw TrainingError("loss is \(total) at epoch \(state.epoch + 1), batch \(state.batch + 1) (step \(state.step + 1)); "
                                + "first non-finite term: '\(culprit)'. The last good checkpoint is kept.")
        }
        // 4. Update.
        if update { apply(to: &state, lr: lr) }
        return Report(total: total, terms: terms)
    }

    func apply(to state: inout TrainState, lr: Double) {
        let o = recipe.optim
        for (i, p) in training.parameters.enumerated() {
            sgdUpdate(weights: &state.parameters[p.name]!, gradient: loss.output(training.layout.gradients.lowerBound + i),
                      velocity: &state.momentum[p.name]!, lr: Float(lr), momentum: Float(o.momentum),
                      weightDecay: Float(o.weightDecay), nesterov: o.nesterov)
        }
        // Running statistics, PyTorch's rule: momentum 0.1, unbiased variance.
        for (k, s) in training.statistics.enumerated() {
            let mean = loss.output(training.layout.statistics.lowerBound + 2 * k)
            let variance = loss.output(training.layout.statistics.lowerBound + 2 * k + 1)
            let unbias = Float(s.elementsPerChannel) / Float(max(s.elementsPerChannel - 1, 1))
            update(&state.buffers["\(s.layer).running_mean"]!) { c, old in 0.9 * old + 0.1 * mean[c] }
            update(&state.buffers["\(s.layer).running_var"]!) { c, old in 0.9 * old + 0.1 * variance[c] * unbias }
        }
        state.step += 1
    }

    private func update(_ values: inout [Float], _ f: (Int, Float) -> Float) {
        for c in values.indices { values[c] = f(c, values[c]) }
    }

    func oneHot(_ labels: [Int32]) -> [Float] {
        var out = [Float](repeating: 0, count: labels.count * classes)
        for (i, y) in labels.enumerated() { out[i * classes + Int(y)] = 1 }
        return out
    }
}
