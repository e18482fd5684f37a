import Foundation
import Graph
import Models
import Objectives
import Recipe

/// The compiled graphs of one training step and the order they run in:
///   1. draw u ~ N(0, σ²) on the noisy parameters (keyed by epoch and batch);
///   2. attack on w + u (if the recipe lets the attack see the noise), eval-mode BN:
///      clean target logits once, then k projected steps from s + init;
///   3. the loss graph at w with tangent u: terms, total, ∂total/∂w, clean BN statistics;
///   4. SGD with momentum and weight decay; BN running statistics from the clean pass.
public final class StepProgram {
    public let recipe: Recipe
    public let model: any Model
    public let inputShape: [Int]      // [N, C, H, W]
    public let classes: Int
    public let training: TrainingGraph
    let loss: any CompiledGraph
    let attackStep: (any CompiledGraph)?
    let target: (any CompiledGraph)?
    let threat: ThreatModel
    let noiseNames: Set<String>

    public init(recipe: Recipe, model: any Model, inputShape: [Int], classes: Int, compiler: GraphCompiler) throws {
        self.recipe = recipe
        self.model = model
        self.inputShape = inputShape
        self.classes = classes
        let terms = try lossTerms(recipe)
        let patterns = recipe.noise.params
        training = buildTrainingGraph(model: model, inputShape: inputShape, classes: classes, terms: terms,
                                      noiseParameters: { name in patterns.contains { globMatches($0, name) } })
        loss = try compiler(training.graph)
        threat = threatModel(recipe.threat)
        let names = training.parameters.map(\.name).filter { name in patterns.contains { globMatches($0, name) } }
        noiseNames = recipe.noise.isActive ? Set(names) : []
        if terms.contains(where: { $0.views.contains { $0.input == .adversarial } }) {
            let objective: AttackObjective = switch recipe.attack.objective {
            case .kl: .kl
            case .ce: .crossEntropy
            case .cw: .carliniWagner(kappa: recipe.attack.kappa)
            }
            let mode: NormalizationMode = recipe.attack.modelMode == .eval ? .eval : .train
            attackStep = try compiler(buildAttackStepGraph(model: model, inputShape: inputShape, classes: classes,
                                                           objective: objective, threat: threat, mode: mode))
            target = objective == .kl ? try compiler(buildLogitsGraph(model: model, inputShape: inputShape, mode: mode)) : nil
        } else {
            attackStep = nil
            target = nil
        }
        if training.noiseParameters.isEmpty == false && !recipe.noise.isActive {
            throw TrainingError("\(recipe.locations.location(of: "noise")): the loss uses Taylor views J(·)/H(·), "
                                + "which need weight noise, but noise is disabled (noise.enabled/sigma)")
        }
    }

    /// What one step reports.
    public struct Report {
        public var total: Double
        public var terms: [String: Double]
        public var adversarial: [Float]
        public var outputs: [[Float]]
    }

    /// Runs one step on a batch and updates `state` in place.
    public func step(_ state: inout TrainState, images: [Float], labels: [Int32], lr: Double,
                     update: Bool = true) throws -> Report {
        let seed = UInt64(bitPattern: Int64(recipe.seed))
        var noiseRng = keyedGenerator(seed: seed, epoch: state.epoch, batch: state.batch, purpose: 1)
        var noise = [String: [Float]]()
        for p in training.parameters where noiseNames.contains(p.name) {
            noise[p.name] = .normal(count: p.count, scale: recipe.noise.sigma, &noiseRng)
        }
        let onehot = oneHot(labels)

        var adversarial = images
        if let attackStep {
            var attackWeights = state.parameters
            if recipe.noise.attackSeesNoise {
                for (name, u) in noise { attackWeights[name] = zip(attackWeights[name]!, u).map(+) }
            }
            var initRng = keyedGenerator(seed: seed, epoch: state.epoch, batch: state.batch, purpose: 2)
            adversarial = startingPoint(images, &initRng)
            var feed = attackWeights.merging(state.buffers) { a, _ in a }
            feed["input/clean"] = images
            feed["label"] = onehot
            if let target {
                feed["input"] = images
                feed["target"] = try target.run(feed)[0]
            }
            for _ in 0..<recipe.threat.steps {
                feed["input/adversarial"] = adversarial
                adversarial = try attackStep.run(feed)[0]
            }
        }

        var feed = state.parameters
        for (name, u) in noise { feed["noise/\(name)"] = u }
        feed["input/clean"] = images
        feed["input/adversarial"] = adversarial
        feed["label"] = onehot
        for term in training.terms { feed["weight/\(term.name)"] = [Float(term.weight)] }
        let out = try loss.run(feed)

        let total = Double(out[training.layout.total][0])
        var terms = [String: Double]()
        for (k, term) in training.terms.enumerated() { terms[term.name] = Double(out[training.layout.terms.lowerBound + k][0]) }
        if !total.isFinite {
            let culprit = training.terms.first { !(terms[$0.name] ?? .nan).isFinite }?.name ?? "total"
            throw TrainingError("loss is \(total) at epoch \(state.epoch + 1), batch \(state.batch + 1) (step \(state.step + 1)); "
                                + "first non-finite term: '\(culprit)'. The last good checkpoint is kept.")
        }
        if update { apply(out, to: &state, lr: lr) }
        return Report(total: total, terms: terms, adversarial: adversarial, outputs: out)
    }

    func apply(_ out: [[Float]], to state: inout TrainState, lr: Double) {
        let o = recipe.optim
        for (i, p) in training.parameters.enumerated() {
            sgdUpdate(weights: &state.parameters[p.name]!, gradient: out[training.layout.gradients.lowerBound + i],
                      velocity: &state.momentum[p.name]!, lr: Float(lr), momentum: Float(o.momentum),
                      weightDecay: Float(o.weightDecay), nesterov: o.nesterov)
        }
        // Running statistics, PyTorch's rule: momentum 0.1, unbiased variance.
        for (k, s) in training.statistics.enumerated() {
            let mean = out[training.layout.statistics.lowerBound + 2 * k]
            let variance = out[training.layout.statistics.lowerBound + 2 * k + 1]
            let unbias = Float(s.elementsPerChannel) / Float(max(s.elementsPerChannel - 1, 1))
            for c in mean.indices {
                state.buffers["\(s.layer).running_mean"]![c] = 0.9 * state.buffers["\(s.layer).running_mean"]![c] + 0.1 * mean[c]
                state.buffers["\(s.layer).running_var"]![c] = 0.9 * state.buffers["\(s.layer).running_var"]![c] + 0.1 * variance[c] * unbias
            }
        }
        state.step += 1
    }

    func startingPoint(_ images: [Float], _ rng: inout SplitMix64) -> [Float] {
        let t = recipe.threat
        guard t.randomStart else { return images }
        switch t.initialization {
        case .normal: return images.map { $0 + Float(rng.normal() * t.initScale) }
        case .uniform: return images.map { min(max($0 + Float((rng.uniform() * 2 - 1) * t.eps.value), 0), 1) }
        }
    }

    func oneHot(_ labels: [Int32]) -> [Float] {
        var out = [Float](repeating: 0, count: labels.count * classes)
        for (i, y) in labels.enumerated() { out[i * classes + Int(y)] = 1 }
        return out
    }
}
