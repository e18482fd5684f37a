import Graph

/// A three-layer perceptron for small images (MNIST-style 1×28×28, though any C×H×W
/// works): flatten, `fc1` → 256, ReLU, `fc2` → 256, ReLU, `fc3` → classes.
public struct MLP: Model {
    public var classes: Int
    public var hiddenWidth: Int

    public init(classes: Int = 10, hiddenWidth: Int = 256) {
        self.classes = classes
        self.hiddenWidth = hiddenWidth
    }

    public var name: String { "mlp" }

    public func logits(_ x: Tensor, _ scope: Scope) -> Tensor {
        let perExample = x.shape.dropFirst().reduce(1, *)
        var h = x.reshaped([x.shape[0], perExample])
        h = relu(linear(h, scope, "fc1", out: hiddenWidth))
        h = relu(linear(h, scope, "fc2", out: hiddenWidth))
        return linear(h, scope, "fc3", out: classes, isClassifier: true)
    }
}
