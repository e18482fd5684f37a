import Graph
import Objectives

/// What an attack ascends, per example, as a function of the logits z [N, K].
/// Inputs besides the model's: `label` [N, K] one-hot; `target` [N, K] the fixed clean
/// logits (KL); `target_label` [N, K] one-hot target class (targeted losses).
public enum AttackLoss: Hashable, Sendable {
    /// Cross-entropy with the label (PGD, APGD-CE).
    case crossEntropy
    /// The CW margin −max(z_y − max_{j≠y} z_j + κ, 0) (CW-k in the TRADES evaluation code).
    case carliniWagner(kappa: Double)
    /// KL(softmax(target) ‖ softmax z), the TRADES training attack.
    case kl
    /// Difference of logits ratio −(z_y − max_{j≠y} z_j) / (z_π1 − z_π3) (Croce & Hein 2020, APGD-DLR).
    case dlr
    /// Targeted DLR −(z_y − z_t) / (z_π1 − (z_π3 + z_π4)/2) (APGD-T).
    case targetedDLR
    /// z_t − z_y, whose zero set is the decision boundary FAB-T linearizes.
    case logitDifference

    /// The inputs beyond the model's that this loss reads.
    public var inputs: [String] {
        switch self {
        case .crossEntropy, .carliniWagner, .dlr: ["label"]
        case .kl: ["label", "target"]
        case .targetedDLR, .logitDifference: ["label", "target_label"]
        }
    }

    /// The fewest classes the loss is defined for (DLR needs the third, targeted DLR the fourth largest logit).
    public var minimumClasses: Int {
        switch self {
        case .dlr: 3
        case .targetedDLR: 4
        default: 2
        }
    }

    /// Per-example values [N, 1] built from `logits` [N, K] in `builder`'s graph.
    public func values(_ logits: Tensor, _ builder: GraphBuilder) -> Tensor {
        let shape = logits.shape
        let onehot = builder.input("label", shape: shape)
        switch self {
        case .crossEntropy:
            return -sum(onehot * logSoftmax(logits), axes: [1])
        case .carliniWagner(let kappa):
            return -relu(margin(logits, onehot) + kappa)
        case .kl:
            let target = builder.input("target", shape: shape)
            let logTarget = logSoftmax(target)
            return sum(exp(logTarget) * (logTarget - logSoftmax(logits)), axes: [1])
        case .dlr:
            let top = largestLogits(logits, count: 3)
            return -margin(logits, onehot) / (top[0] - top[2] + 1e-12)
        case .targetedDLR:
            let goal = builder.input("target_label", shape: shape)
            let top = largestLogits(logits, count: 4)
            let gap = sum(logits * onehot, axes: [1]) - sum(logits * goal, axes: [1])
            return -gap / (top[0] - (top[2] + top[3]) * 0.5 + 1e-12)
        case .logitDifference:
            let goal = builder.input("target_label", shape: shape)
            return sum(logits * goal, axes: [1]) - sum(logits * onehot, axes: [1])
        }
    }
}

/// The `count` largest logits per row [N, 1] each, largest first, by masking the maximum
/// out in turn. A tie removes every tied entry at once; the reference sorts, which keeps
/// duplicates. Logits tie only when a model saturates, which the zero-gradient check reports.
func largestLogits(_ logits: Tensor, count: Int) -> [Tensor] {
    var rest = logits
    var values = [Tensor]()
    for _ in 0..<count {
        let top = max(rest, axes: [1])
        values.append(top)
        rest = rest - equal(rest, top) * 1e9
    }
    return values
}
