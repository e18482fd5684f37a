import Graph
import Models

/// What an attack ascends.
public enum AttackObjective: Hashable, Sendable {
    /// KL(softmax f(s) ‖ softmax f(s')) with the clean logits fed as `target` (TRADES).
    case kl
    case crossEntropy
    case carliniWagner(kappa: Double)
}

public enum Norm: String, Hashable, Sendable { case linf, l2 }

public struct ThreatModel: Hashable, Sendable {
    public var norm: Norm
    public var epsilon: Double
    public var stepSize: Double

    public init(norm: Norm, epsilon: Double, stepSize: Double) {
        self.norm = norm
        self.epsilon = epsilon
        self.stepSize = stepSize
    }
}

/// One projected ascent step as a graph; an attack runs it k times, feeding its output back.
///
/// Inputs: parameters and BN buffers (eval-mode model unless `mode` says otherwise),
/// `input/clean` s and `input/adversarial` s' [N,C,H,W], `label` [N,K] one-hot, and for the
/// KL objective `target` [N,K] (clean logits, computed once per attack).
/// Outputs: [0] the next s', [1] the objective at s'.
///   ℓ∞: s' ← clip_[0,1](Π_ε(s' + α·sign ∇)).
///   ℓ2: s' ← s' + α·∇/‖∇‖, clip to [0,1], then δ = s' − s renormed to ‖δ‖ ≤ ε (TRADES's ℓ2 PGD).
public func buildAttackStepGraph(model: any Model, inputShape: [Int], classes: Int,
                                 objective: AttackObjective, threat: ThreatModel,
                                 mode: NormalizationMode = .eval) -> Graph {
    let builder = GraphBuilder()
    let scope = Scope(builder: builder, mode: mode)
    let adversarial = builder.input("input/adversarial", shape: inputShape)
    let onehot = builder.input("label", shape: [inputShape[0], classes])
    let logits = model.logits(adversarial, scope)
    let value: Tensor
    switch objective {
    case .kl: value = klDivergence(builder.input("target", shape: [inputShape[0], classes]), logits)
    case .crossEntropy: value = crossEntropy(logits, onehot)
    case .carliniWagner(let kappa): value = carliniWagnerObjective(logits, onehot, kappa: kappa)
    }
    let forward = builder.finish([value])
    let withGradient = vjp(forward, of: 0, wrt: ["input/adversarial"])

    let b = GraphBuilder(withGradient)
    let x = b.tensor(withGradient.inputNode(named: "input/adversarial")!)
    let clean = b.input("input/clean", shape: inputShape)
    let gradient = b.tensor(withGradient.outputs[1])
    let next: Tensor
    switch threat.norm {
    case .linf:
        let stepped = x + sign(gradient) * threat.stepSize
        let projected = minimum(maximum(stepped, clean - threat.epsilon), clean + threat.epsilon)
        next = clamp(projected, min: 0, max: 1)
    case .l2:
        let axes = Array(1..<inputShape.count)
        let gradNorm = sqrt(sum(gradient * gradient, axes: axes)) + 1e-12
        let stepped = clamp(x + gradient / gradNorm * threat.stepSize, min: 0, max: 1)
        let delta = stepped - clean
        let deltaNorm = sqrt(sum(delta * delta, axes: axes))
        let scale = minimum(deltaNorm.splat(1), threat.epsilon / (deltaNorm + 1e-7))
        next = clean + delta * scale
    }
    return b.finish([next, b.tensor(withGradient.outputs[0])])
}

/// Eval-mode logits of `input` [N,C,H,W] (the clean target of the KL attack; evaluation).
public func buildLogitsGraph(model: any Model, inputShape: [Int], mode: NormalizationMode = .eval) -> Graph {
    model.forwardGraph(inputShape: inputShape, mode: mode).graph
}
