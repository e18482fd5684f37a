import Graph

// Losses on logits [N, K] and one-hot labels [N, K], as compositions of primitives.
// Batch reductions follow the TRADES reference: sums over the batch divided by N.

/// Mean cross-entropy: −Σ y·log softmax(z) / N.
public func crossEntropy(_ logits: Tensor, _ onehot: Tensor) -> Tensor {
    -sum(onehot * logSoftmax(logits)) / Double(logits.shape[0])
}

/// KL(softmax p ‖ softmax q), summed over the batch and divided by N. Gradients flow
/// through both arguments (the TRADES reference does not detach the clean softmax).
public func klDivergence(_ p: Tensor, _ q: Tensor) -> Tensor {
    let logP = logSoftmax(p)
    return sum(exp(logP) * (logP - logSoftmax(q))) / Double(p.shape[0])
}

/// ½ (KL(p‖q) + KL(q‖p)).
public func symmetricKL(_ p: Tensor, _ q: Tensor) -> Tensor {
    (klDivergence(p, q) + klDivergence(q, p)) * 0.5
}

/// Σ_classes (a − b)², averaged over the batch.
public func squaredError(_ a: Tensor, _ b: Tensor) -> Tensor {
    let d = a - b
    return sum(d * d) / Double(a.shape[0])
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

/// The CW margin as a training loss (to minimize): Σ max(max_{j≠y} z_j − z_y + κ, 0) / N.
public func carliniWagnerLoss(_ logits: Tensor, _ onehot: Tensor, kappa: Double) -> Tensor {
    sum(relu(kappa - margin(logits, onehot))) / Double(logits.shape[0])
}
