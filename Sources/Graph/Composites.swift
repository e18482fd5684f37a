/// Compositions of primitives shared by models, losses and attacks. None has derivative
/// code: the transforms see only the primitives these expand into.

/// log softmax over the last axis of [N, K] logits. The max shift is a stop-gradient: the
/// result does not depend on it, so neither does any derivative.
public func logSoftmax(_ logits: Tensor) -> Tensor {
    let axis = logits.rank - 1
    let shifted = logits - stopGradient(max(logits, axes: [axis]))
    return shifted - log(sum(exp(shifted), axes: [axis]))
}

public func softmax(_ logits: Tensor) -> Tensor { exp(logSoftmax(logits)) }

/// Non-overlapping average pooling with window = stride = k over x[N,C,H,W].
public func averagePool(_ x: Tensor, window k: Int) -> Tensor {
    let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    precondition(h % k == 0 && w % k == 0, "average pool window \(k) must divide \(h)×\(w)")
    let windows = x.reshaped([n, c, h / k, k, w / k, k])
    return mean(windows, axes: [3, 5]).reshaped([n, c, h / k, w / k])
}

/// Non-overlapping max pooling with window = stride = k over x[N,C,H,W].
public func maxPool(_ x: Tensor, window k: Int) -> Tensor {
    let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    precondition(h % k == 0 && w % k == 0, "max pool window \(k) must divide \(h)×\(w)")
    let windows = x.reshaped([n, c, h / k, k, w / k, k])
    return max(windows, axes: [3, 5]).reshaped([n, c, h / k, w / k])
}

/// Mean over H and W of x[N,C,H,W] → [N,C].
public func globalAveragePool(_ x: Tensor) -> Tensor {
    mean(x, axes: [2, 3]).reshaped([x.shape[0], x.shape[1]])
}
