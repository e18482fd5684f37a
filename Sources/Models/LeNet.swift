import Graph

/// LeNet-5 for 1×28×28 inputs: conv 5×5 (padding 2) → 6, ReLU, max pool 2; conv 5×5 → 16,
/// ReLU, max pool 2; then `fc1` → 120, `fc2` → 84, `fc3` → classes. Plain (no BN),
/// biases on. The flatten size follows from the input: 16·5·5 = 400 at 28×28.
public struct LeNet: Model {
    public var classes: Int

    public init(classes: Int = 10) { self.classes = classes }

    public var name: String { "lenet" }

    public func logits(_ x: Tensor, _ scope: Scope) -> Tensor {
        var h = maxPool(relu(conv2d(x, scope, "conv1", out: 6, kernel: 5, padding: 2, bias: true)), window: 2)
        h = maxPool(relu(conv2d(h, scope, "conv2", out: 16, kernel: 5, bias: true)), window: 2)
        h = h.reshaped([h.shape[0], h.shape[1] * h.shape[2] * h.shape[3]])
        h = relu(linear(h, scope, "fc1", out: 120))
        h = relu(linear(h, scope, "fc2", out: 84))
        return linear(h, scope, "fc3", out: classes, isClassifier: true)
    }

    /// Nil when both 2×2 max pools (non-overlapping, so they need even sizes) fit: conv1
    /// keeps the size, the first pool halves it, conv2 takes 4 off and the second pool
    /// halves again, so H and W must be multiples of 4 and at least 12.
    public static func inputProblem(height: Int, width: Int) -> String? {
        let fits = { (size: Int) in size % 4 == 0 && size >= 12 }
        if fits(height) && fits(width) { return nil }
        return "needs H and W that are multiples of 4 and at least 12 (e.g. 28×28 or 32×32) "
            + "so both 2×2 max pools see even sizes, got \(height)×\(width)"
    }
}
