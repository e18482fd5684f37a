import Graph

// Losses on logits [N, K] and one-hot labels [N, K], as compositions of primitives.
// Each criterion has a per-example form [N, 1]; the batch loss is its sum over the batch
// divided by N (the TRADES reference's reduction), and a per-example weight multiplies
// the per-example form before that reduction (MART's weighted KL).

/// Σ_i loss_i / N of a per-example loss [N, 1].
public func batchMean(_ perExample: Tensor) -> Tensor {
    sum(perExample) / Double(perExample.shape[0])
}

/// −Σ_k y_k·log softmax(z)_k per example.
public func crossEntropyPerExample(_ logits: Tensor, _ onehot: Tensor) -> Tensor {
    -sum(onehot * logSoftmax(logits), axes: [1])
}

/// Mean cross-entropy: −Σ y·log softmax(z) / N.
public func crossEntropy(_ logits: Tensor, _ onehot: Tensor) -> Tensor {
    batchMean(crossEntropyPerExample(logits, onehot))
}

/// KL(softmax p ‖ softmax q) per example. Gradients flow through both arguments (the
/// TRADES reference does not detach the clean softmax).
public func klDivergencePerExample(_ p: Tensor, _ q: Tensor) -> Tensor {
    let logP = logSoftmax(p)
    return sum(exp(logP) * (logP - logSoftmax(q)), axes: [1])
}

/// KL(softmax p ‖ softmax q), summed over the batch and divided by N.
public func klDivergence(_ p: Tensor, _ q: Tensor) -> Tensor {
    batchMean(klDivergencePerExample(p, q))
}

/// ½ (KL(p‖q) + KL(q‖p)) per example.
public func symmetricKLPerExample(_ p: Tensor, _ q: Tensor) -> Tensor {
    (klDivergencePerExample(p, q) + klDivergencePerExample(q, p)) * 0.5
}

/// ½ (KL(p‖q) + KL(q‖p)), averaged over the batch.
public func symmetricKL(_ p: Tensor, _ q: Tensor) -> Tensor {
    batchMean(symmetricKLPerExample(p, q))
}

/// Σ_classes (a − b)² per example.
public func squaredErrorPerExample(_ a: Tensor, _ b: Tensor) -> Tensor {
    let d = a - b
    return sum(d * d, axes: [1])
}

/// Σ_classes (a − b)², averaged over the batch.
public func squaredError(_ a: Tensor, _ b: Tensor) -> Tensor {
    batchMean(squaredErrorPerExample(a, b))
}

/// z_y − max_{j≠y} z_j per example, [N, 1]. The true class is excluded from the max by a
/// large negative offset, so its derivative reaches only the runner-up.
public func margin(_ logits: Tensor, _ onehot: Tensor) -> Tensor {
    let trueLogit = sum(logits * onehot, axes: [1])
    let runnerUp = max(logits - onehot * 1e4, axes: [1])
    return trueLogit - runnerUp
}

/// The CW-k attack objective (to maximize): −Σ max(z_y − max_{j≠y} z_j + κ, 0) / N,
/// as in the TRADES evaluation code.
public func carliniWagnerObjective(_ logits: Tensor, _ onehot: Tensor, kappa: Double) -> Tensor {
    -sum(relu(margin(logits, onehot) + kappa)) / Double(logits.shape[0])
}

/// The CW margin as a training loss per example: max(max_{j≠y} z_j − z_y + κ, 0).
public func carliniWagnerLossPerExample(_ logits: Tensor, _ onehot: Tensor, kappa: Double) -> Tensor {
    relu(kappa - margin(logits, onehot))
}

/// The CW margin as a training loss (to minimize): Σ max(max_{j≠y} z_j − z_y + κ, 0) / N.
public func carliniWagnerLoss(_ logits: Tensor, _ onehot: Tensor, kappa: Double) -> Tensor {
    batchMean(carliniWagnerLossPerExample(logits, onehot, kappa: kappa))
}

/// MART's boosted cross-entropy per example (Wang et al. 2020):
/// −log p_y − log(1.0001 − max_{k≠y} p_k + 1e-12), p = softmax(z). The second part pushes
/// the most likely wrong class down as well; the constants are the MART reference code's
/// (they keep the log finite when the runner-up's probability reaches 1).
public func boostedCrossEntropyPerExample(_ logits: Tensor, _ onehot: Tensor) -> Tensor {
    let probabilities = softmax(logits)
    // Probabilities lie in [0, 1]: subtracting 2 at the true class removes it from the max.
    let runnerUp = max(probabilities - onehot * 2, axes: [1])
    return crossEntropyPerExample(logits, onehot) - log(1.0001 + 1e-12 - runnerUp)
}
