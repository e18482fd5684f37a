import Executor
import Graph
import Models
import Objectives

/// One projected ascent step as a graph; PGD runs it k times, feeding its output back.
///
/// Inputs: parameters and BN buffers, `input/clean` s and `input/adversarial` s' [N,C,H,W],
/// and the loss's inputs (`label` [N,K] one-hot; `target` [N,K] for KL).
/// Outputs: [0] the next s', [1] the batch-mean loss at s'.
///   ℓ∞: s' ← clip_[0,1](Π_ε(s' + α·sign ∇)).
///   ℓ2: s' ← s' + α·∇/‖∇‖, clip to [0,1], then δ = s' − s renormed to ‖δ‖ ≤ ε (TRADES's ℓ2 PGD).
public func buildProjectedStepGraph(model: any Model, inputShape: [Int], classes: Int, loss: AttackLoss,
                                    threat: ThreatModel, mode: NormalizationMode = .eval) -> Graph {
    let builder = GraphBuilder()
    let scope = Scope(builder: builder, mode: mode)
    let adversarial = builder.input("input/adversarial", shape: inputShape)
    let logits = model.logits(adversarial, scope)
    // Averaged over the batch like the training losses (the step uses only the gradient's
    // sign or direction, so the scale matters only for the reported value).
    let forward = builder.finish([sum(loss.values(logits, builder)) / Double(inputShape[0])])
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
