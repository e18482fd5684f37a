import Graph

/// The engine's test and benchmark network: three conv–BN–ReLU stages (the second and
/// third strided), global average pool, linear. Parameter names as in the reference.
public struct SmallCNN: Model {
    public var classes: Int
    public var widths: [Int]

    public init(classes: Int = 10, widths: [Int] = [32, 64, 128]) {
        self.classes = classes
        self.widths = widths
    }

    public var name: String { "small-cnn" }

    public func logits(_ x: Tensor, _ scope: Scope) -> Tensor {
        var h = x
        for (i, width) in widths.enumerated() {
            h = conv2d(h, scope, "conv\(i + 1)", out: width, kernel: 3, stride: i == 0 ? 1 : 2, padding: 1)
            h = relu(batchNorm(h, scope, "bn\(i + 1)"))
        }
        return linear(globalAveragePool(h), scope, "fc", out: classes, isClassifier: true)
    }
}
