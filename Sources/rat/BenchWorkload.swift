import ArgumentParser
import Executor
import Foundation
import Graph
import Kernels
import Models
import Objectives
import Planner

/// One benchmark workload of one model: the compiled graphs of a training step and the state
/// that carries over between steps (parameters, momentum). Random data, 10 classes.
///   plain    forward + backward of clean CE, SGD-momentum update
///   trades   10-step KL-PGD (ε 8/255, α 2/255, eval-mode model), TRADES loss, update
///   taylor1  trades + the first-order Taylor term, noise σ = 0.01 on every parameter
///   taylor12 taylor1 + the second-order term
final class BenchWorkload {
    static let names = ["plain", "trades", "taylor1", "taylor12"]
    let attackSteps = 10
    let sigma: Float = 0.01

    let train: Executor
    let attack: Executor?     // one ascent step, run `attackSteps` times
    let target: Executor?     // clean eval-mode logits, the KL attack's target
    let trainingGraph: TrainingGraph
    let noisy: Bool
    let inputShape: [Int]
    private var rng = SplitMix(seed: 7)
    private var momentum: [String: [Float]] = [:]
    private let parameterBuffers: [(info: ParameterInfo, value: UnsafeMutableBufferPointer<Float>, gradient: Int)]

    var executors: [Executor] { [train] + [attack, target].compactMap { $0 } }

    init(model: any Model, workload: String, batch: Int, classes: Int) throws {
        inputShape = [batch, 3, 32, 32]
        let terms: [LossTerm]
        switch workload {
        case "plain": terms = [LossTerm(name: "natural", criterion: .crossEntropy, views: [View(.clean)], weight: 1)]
        case "trades": terms = StandardLoss.trades()
        case "taylor1": terms = StandardLoss.trades(firstOrder: 0.3)
        case "taylor12": terms = StandardLoss.trades(firstOrder: 0.3, secondOrder: 0.2)
        default: throw ValidationError("unknown workload '\(workload)'; known: \(Self.names.joined(separator: ", "))")
        }
        noisy = workload.hasPrefix("taylor")
        trainingGraph = buildTrainingGraph(model: model, inputShape: inputShape, classes: classes, terms: terms)
        train = Executor(plan: plan(trainingGraph.graph))
        if workload == "plain" {
            (attack, target) = (nil, nil)
        } else {
            let threat = ThreatModel(norm: .linf, epsilon: 8.0 / 255, stepSize: 2.0 / 255)
            attack = Executor(plan: plan(buildAttackStepGraph(model: model, inputShape: inputShape, classes: classes,
                                                              objective: .kl, threat: threat)))
            target = Executor(plan: plan(buildLogitsGraph(model: model, inputShape: inputShape)))
        }
        var buffers = [(ParameterInfo, UnsafeMutableBufferPointer<Float>, Int)]()
        for (k, info) in trainingGraph.parameters.enumerated() {
            buffers.append((info, try train.inputBuffer(named: info.name), trainingGraph.layout.gradients.lowerBound + k))
        }
        parameterBuffers = buffers
        try initialize(classes: classes)
    }

    /// Parameters from their initializers, BN buffers at their initial values, random
    /// images and labels, loss weights.
    private func initialize(classes: Int) throws {
        for (info, value, _) in parameterBuffers {
            for i in value.indices {
                switch info.initializer {
                case .constant(let v): value[i] = Float(v)
                case .uniform(let bound): value[i] = Float(rng.uniform() * 2 - 1) * Float(bound)
                case .normal(let std): value[i] = rng.gaussian() * Float(std)
                }
            }
            momentum[info.name] = Array(repeating: 0, count: value.count)
        }
        for executor in executors {
            for (name, _) in executor.inputs {
                let buffer = try executor.inputBuffer(named: name)
                if name.hasPrefix("input/") { for i in buffer.indices { buffer[i] = Float(rng.uniform()) } }
                if name.hasSuffix("running_var") { buffer.update(repeating: 1) }
                if name == "label" {
                    buffer.update(repeating: 0)
                    for n in 0..<inputShape[0] { buffer[n * classes + Int(rng.next() % UInt64(classes))] = 1 }
                }
            }
        }
        for term in trainingGraph.terms { try train.inputBuffer(named: "weight/\(term.name)")[0] = Float(term.weight) }
        if let attack, let target {
            try copy(from: train, "label", to: attack, "label")
            try copy(from: train, "input/clean", to: attack, "input/clean")
            try copy(from: train, "input/clean", to: target, "input")
        }
    }

    /// One training step.
    func step() throws {
        if let attack, let target {
            // Parameters the attack sees: w, or w + u with this step's noise draw.
            for (info, value, _) in parameterBuffers {
                let attackValue = try attack.inputBuffer(named: info.name)
                let targetValue = try target.inputBuffer(named: info.name)
                if noisy {
                    let noise = try train.inputBuffer(named: "noise/\(info.name)")
                    for i in value.indices {
                        noise[i] = rng.gaussian() * sigma
                        attackValue[i] = value[i] + noise[i]
                    }
                } else {
                    attackValue.update(fromContentsOf: value)
                }
                targetValue.update(fromContentsOf: attackValue)
            }
            target.run()
            try attack.inputBuffer(named: "target").update(fromContentsOf: target.outputBuffer(0))
            let clean = try attack.inputBuffer(named: "input/clean")
            let adversarial = try attack.inputBuffer(named: "input/adversarial")
            for i in clean.indices { adversarial[i] = clean[i] + 0.001 * rng.gaussian() }
            for _ in 0..<attackSteps {
                attack.run()
                adversarial.update(fromContentsOf: attack.outputBuffer(0))
            }
            try train.inputBuffer(named: "input/adversarial").update(fromContentsOf: adversarial)
        }
        train.run()
        sgdMomentumUpdate(learningRate: 0.1, momentum: 0.9, weightDecay: 5e-4)
    }

    private func sgdMomentumUpdate(learningRate: Float, momentum mu: Float, weightDecay: Float) {
        for (info, value, gradientIndex) in parameterBuffers {
            let gradient = train.outputBuffer(gradientIndex)
            momentum[info.name]!.withUnsafeMutableBufferPointer { velocity in
                for i in value.indices {
                    velocity[i] = mu * velocity[i] + gradient[i] + weightDecay * value[i]
                    value[i] -= learningRate * velocity[i]
                }
            }
        }
    }

    private func copy(from a: Executor, _ nameA: String, to b: Executor, _ nameB: String) throws {
        try b.inputBuffer(named: nameB).update(fromContentsOf: a.inputBuffer(named: nameA))
    }

    /// FLOPs of one step, counted from the plans.
    var flopsPerStep: Int {
        train.plan.flops + (attack.map { $0.plan.flops * attackSteps } ?? 0) + (target?.plan.flops ?? 0)
    }

    var arenaBytes: Int { executors.reduce(0) { $0 + $1.plan.arenaBytes } }

    /// The largest convolution of the training plan as a batch-wide gemm: M = O, N = N·OH·OW, K = C·K·K.
    var dominantGemm: (m: Int, n: Int, k: Int) {
        var best = (flops: 0, m: 256, n: 256, k: 256)
        for step in train.plan.steps where step.kind == .conv2d && step.flops > best.flops {
            let (w, y) = (step.operands[1].shape, step.output.shape)
            best = (step.flops, w[0], y[0] * y[2] * y[3], w[1] * w[2] * w[3])
        }
        return (best.m, best.n, best.k)
    }
}

/// SplitMix64 with uniform and Gaussian draws (benchmark data only).
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func uniform() -> Double { Double(next() >> 11) / Double(1 << 53) }
    mutating func gaussian() -> Float {
        Float((-2 * Foundation.log(max(uniform(), 1e-300))).squareRoot() * Foundation.cos(2 * .pi * uniform()))
    }
}
