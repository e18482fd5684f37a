import Executor
import Foundation
import Attacks
import Collective
import Graph
import Models
import Objectives
import Recipe

/// The compiled graphs of one training step and the order they run in:
///   1. draw u ~ N(0, σ²) on the noisy parameters (keyed by seed, epoch and batch);
///   2. attack on w + u (if the recipe lets the attack see the noise), eval-mode BN unless
///      the recipe says otherwise: clean target logits once, then k projected steps;
///   3. AWP (when on and past its warm-up): w ← w + γ·v from a proxy step on the zeroth-order loss;
///   4. the loss graph at w with tangent u: terms, total, ∂total/∂w, clean BN statistics;
///   5. SGD with momentum and weight decay; BN running statistics from the clean pass;
///      AWP's γ·v is subtracted again.
/// Inputs are written in place into each graph's storage; the attack loop copies only the
/// adversarial batch between its runs.
public final class StepProgram {
    public let recipe: Recipe
    public let model: any Model
    public let inputShape: [Int]      // [N, C, H, W]
    public let classes: Int
    public let training: TrainingGraph
    public let loss: any CompiledGraph
    /// The model as the training attack sees it, and the attack (one implementation with
    /// evaluation's): its compiled step graph and, for KL, the clean logits it targets.
    public let attacked: AttackedModel?
    public let trainingAttack: PGD
    public let attack: (any CompiledGraph)?
    public let target: (any CompiledGraph)?
    /// Parameters that get noise (empty when the recipe has none).
    public let noisy: [ParameterInfo]
    /// AWP's proxy loss (the recipe's zeroth-order terms) and its gradient, when AWP is on.
    public let proxy: (any CompiledGraph)?
    let proxyGraph: TrainingGraph?

    /// The ranks whose BatchNorm statistics the graphs all-reduce (1: none do).
    public let batchNormRanks: Int

    /// `synchronizingBatchNorm`: the reduction of a data-parallel group with `distributed.sync_bn`
    /// (`inputShape` is then one rank's share): every train-mode BatchNorm of the step's graphs
    /// normalises by the global batch, and every graph is compiled to run its all-reduces with it.
    public init(recipe: Recipe, model: any Model, inputShape: [Int], classes: Int, compiler: @escaping GraphCompiler,
                synchronizingBatchNorm reduction: (any CrossRankReduction)? = nil) throws {
        self.recipe = recipe
        self.model = model
        self.inputShape = inputShape
        self.classes = classes
        batchNormRanks = reduction?.ranks ?? 1
        let compiler = reduction.map { reducingAcrossRanks(compiler, with: $0) } ?? compiler
        let graphs = try StepGraphs(recipe: recipe, model: model, inputShape: inputShape, classes: classes,
                                    batchNormRanks: batchNormRanks)
        training = graphs.training
        noisy = graphs.noisy
        loss = try compiler(graphs.training.graph)
        trainingAttack = Training.trainingAttack(recipe)
        if graphs.attack != nil {
            let attacked = try AttackedModel(model: model, inputShape: inputShape, classes: classes,
                                             mode: trainingAttackMode(recipe, batchNormRanks: batchNormRanks), compiler: compiler)
            attack = try attacked.stepGraph(trainingAttack.loss, trainingAttack.threat)
            target = trainingAttack.loss == .kl ? attacked.logitsGraph : nil
            self.attacked = attacked
        } else {
            (attacked, attack, target) = (nil, nil, nil)
        }
        proxy = try graphs.proxy.map { try compiler($0.graph) }
        proxyGraph = graphs.proxy
    }

    /// The compiled graphs with how many times each runs per step (for FLOP counts, profiles).
    public var graphs: [(graph: any CompiledGraph, runsPerStep: Int)] {
        [(loss, 1)] + (attack.map { [($0, recipe.threat.steps)] } ?? []) + (target.map { [($0, 1)] } ?? [])
            + (proxy.map { [($0, 1)] } ?? [])
    }

    /// What one step reports.
    public struct Report {
        public var total: Double
        public var terms: [String: Double]
    }

    /// Runs one step on a batch (images [N,C,H,W] in [0,1], labels [N]) and, if `update`,
    /// applies it to `state`. Afterwards the graphs still hold this step's inputs and
    /// outputs (noise, adversarial batch, views, gradients) for inspection.
    /// With `parallel`, the batch is this rank's share of the global batch: the attack's random
    /// starts are those of its rows in the global batch, and gradients, BN statistics and the
    /// reported losses are averaged over the ranks (one all-reduce) before the update.
    public func step(_ state: inout TrainState, images: [Float], labels: [Int32], lr: Double,
                     update: Bool = true, parallel: DataParallel? = nil) throws -> Report {
        let parallel = parallel.flatMap { $0.splitsBatch ? $0 : nil }
        let seed = UInt64(bitPattern: Int64(recipe.seed))
        let onehot = oneHot(labels)

        // 1. Noise, drawn into the loss graph's tangent inputs when it has them.
        var noiseRng = keyedGenerator(seed: seed, epoch: state.epoch, batch: state.batch, purpose: 1)
        var noise = [String: [Float]]()
        for p in noisy { noise[p.name] = .normal(count: p.count, scale: recipe.noise.sigma, &noiseRng) }
        for name in training.noiseParameters { try loss.setInput("noise/\(name)", noise[name]!) }

        // 2. Attack.
        var adversarial = images
        if let attacked {
            let seesNoise = recipe.noise.attackSeesNoise
            try attacked.updateWeights { name, w in
                if let p = state.parameters[name] {
                    _ = w.update(fromContentsOf: p)
                    if seesNoise, let u = noise[name] { for i in w.indices { w[i] += u[i] } }
                } else if let b = state.buffers[name] {
                    _ = w.update(fromContentsOf: b)
                }
            }
            var initRng = keyedGenerator(seed: seed, epoch: state.epoch, batch: state.batch, purpose: 2)
            adversarial = try trainingAttack.perturb(attacked, images: images, labels: labels, rng: &initRng,
                                                     rows: parallel.map { ($0.firstRow, $0.globalBatch) })
        }

        // 3. AWP: move w to w + γ·v before the loss, take the step there, move back after.
        let perturbation = try adversarialWeightPerturbation(state, images: images, adversarial: adversarial, onehot: onehot,
                                                           parallel: parallel)
        for (name, v) in perturbation { add(v, to: &state.parameters[name]!, sign: 1) }
        defer { for (name, v) in perturbation { add(v, to: &state.parameters[name]!, sign: -1) } }

        // 4. Loss and gradients at w (+ γ·v).
        for p in training.parameters { try loss.setInput(p.name, state.parameters[p.name]!) }
        if loss.declares("input/clean") { try loss.setInput("input/clean", images) }
        if loss.declares("input/adversarial") { try loss.setInput("input/adversarial", adversarial) }
        try loss.setInput("label", onehot)
        for term in training.terms { try loss.setInput("weight/\(term.name)", [Float(term.weight)]) }
        try loss.run()

        // Data-parallel: the ranks' gradients, statistics and losses averaged in one all-reduce.
        var fused = parallel.map { _ in FusedStepOutputs(loss: loss, training: training) }
        if let parallel { parallel.average(&fused!.values) }
        let total = fused?.total ?? Double(loss.output(training.layout.total)[0])
        var terms = [String: Double]()
        for (k, term) in training.terms.enumerated() {
            terms[term.name] = fused?.term(k) ?? Double(loss.output(training.layout.terms.lowerBound + k)[0])
        }
        guard total.isFinite else {
            let culprit = training.terms.first { !(terms[$0.name] ?? .nan).isFinite }?.name ?? "total"
            throw TrainingError("loss is \(total) at epoch \(state.epoch + 1), batch \(state.batch + 1) (step \(state.step + 1)); "
                                + "first non-finite term: '\(culprit)'.")
        }
        // 5. Update (at the perturbed weights, as the AWP reference does; the deferred
        //    restore then subtracts γ·v).
        if update { apply(to: &state, lr: lr, averaged: fused) }
        return Report(total: total, terms: terms)
    }

    /// AWP (Wu et al. 2020, as its TRADES reference runs it): one proxy SGD step on the
    /// negated zeroth-order loss gives Δ = proxy_lr·∇L; for every weight with more than one
    /// dimension, v = ‖w‖/(‖Δ‖ + 1e-20)·Δ. Returns γ·v per weight, empty before the warm-up
    /// ends (the reference's 1-based `epoch >= awp_warmup`).
    /// Data-parallel, the proxy gradients are averaged over the ranks first (a second
    /// all-reduce, only with AWP), so every rank perturbs its weights alike.
    public func adversarialWeightPerturbation(_ state: TrainState, images: [Float], adversarial: [Float],
                                       onehot: [Float], parallel: DataParallel? = nil) throws -> [String: [Float]] {
        guard let proxy, let proxyGraph, state.epoch + 1 >= recipe.awp.warmup else { return [:] }
        for p in proxyGraph.parameters { try proxy.setInput(p.name, state.parameters[p.name]!) }
        if proxy.declares("input/clean") { try proxy.setInput("input/clean", images) }
        if proxy.declares("input/adversarial") { try proxy.setInput("input/adversarial", adversarial) }
        try proxy.setInput("label", onehot)
        for term in proxyGraph.terms { try proxy.setInput("weight/\(term.name)", [Float(term.weight)]) }
        try proxy.run()
        var perturbation = [String: [Float]]()
        let (gamma, proxyLR) = (recipe.awp.gamma, recipe.awp.proxyLR)
        let perturbed = proxyGraph.parameters.enumerated().filter { $0.element.shape.count > 1 && $0.element.name.hasSuffix("weight") }
        var gradients = perturbed.map { Array(proxy.output(proxyGraph.layout.gradients.lowerBound + $0.offset)) }
        if let parallel, parallel.splitsBatch {
            var fused = gradients.flatMap { $0 }
            parallel.average(&fused)
            var offset = 0
            for k in gradients.indices {
                gradients[k] = Array(fused[offset..<offset + gradients[k].count])
                offset += gradients[k].count
            }
        }
        for (k, (_, p)) in perturbed.enumerated() {
            let gradient = gradients[k]
            let w = state.parameters[p.name]!
            let weightNorm = w.reduce(0) { $0 + Double($1) * Double($1) }.squareRoot()
            let stepNorm = proxyLR * gradient.reduce(0) { $0 + Double($1) * Double($1) }.squareRoot()
            let scale = Float(gamma * weightNorm / (stepNorm + 1e-20) * proxyLR)
            perturbation[p.name] = gradient.map { $0 * scale }
        }
        return perturbation
    }

    private func add(_ v: [Float], to w: inout [Float], sign: Float) {
        for i in w.indices { w[i] += sign * v[i] }
    }

    /// SGD on the loss graph's gradients, or on their average over the ranks (`averaged`).
    func apply(to state: inout TrainState, lr: Double, averaged: FusedStepOutputs? = nil) {
        let o = recipe.optim
        // The update reads an output slot: the loss graph's own, or its place in the fused buffer.
        func withOutput(_ slot: Int, _ fusedRange: (FusedStepOutputs) -> Range<Int>, _ body: (UnsafeBufferPointer<Float>) -> Void) {
            if let averaged {
                averaged.values.withUnsafeBufferPointer { body(UnsafeBufferPointer(rebasing: $0[fusedRange(averaged)])) }
            } else {
                body(loss.output(slot))
            }
        }
        for (i, p) in training.parameters.enumerated() {
            withOutput(training.layout.gradients.lowerBound + i, { $0.gradients[i] }) { gradient in
                sgdUpdate(weights: &state.parameters[p.name]!, gradient: gradient,
                          velocity: &state.momentum[p.name]!, lr: Float(lr), momentum: Float(o.momentum),
                          weightDecay: Float(o.weightDecay), nesterov: o.nesterov)
            }
        }
        // Running statistics, PyTorch's rule: momentum 0.1, unbiased variance.
        for (k, s) in training.statistics.enumerated() {
            var (mean, variance) = ([Float](), [Float]())
            withOutput(training.layout.statistics.lowerBound + 2 * k, { $0.statistics[2 * k] }) { mean = Array($0) }
            withOutput(training.layout.statistics.lowerBound + 2 * k + 1, { $0.statistics[2 * k + 1] }) { variance = Array($0) }
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
