import Graph

/// PreAct ResNet-18 as in the adversarial-training reference code (the TRADES/AWP
/// `models/preactresnet.py`): parameter names, shapes and PyTorch's default initializers
/// match, so checkpoints map one to one. 11,172,170 parameters for 10 classes.
public struct PreActResNet18: Model {
    public var classes: Int

    /// Stage widths and the stride of each stage's first block.
    static let stages: [(width: Int, stride: Int)] = [(64, 1), (128, 2), (256, 2), (512, 2)]
    static let blocksPerStage = 2
    /// The reference pools with a fixed 4×4 window and flattens to 512 features, so the
    /// last stage must come out at exactly 4×4.
    static let finalPoolWindow = 4

    public init(classes: Int = 10) { self.classes = classes }

    public var name: String { "preact-resnet18" }

    public func logits(_ x: Tensor, _ scope: Scope) -> Tensor {
        var h = conv2d(x, scope, "conv1", out: 64, kernel: 3, padding: 1)
        for (index, stage) in Self.stages.enumerated() {
            let layer = scope.child("layer\(index + 1)")
            for block in 0..<Self.blocksPerStage {
                h = preActBlock(h, layer.child("\(block)"), out: stage.width, stride: block == 0 ? stage.stride : 1)
            }
        }
        h = relu(batchNorm(h, scope, "bn"))
        // On the 4×4 map the reference's `avg_pool2d(out, 4)` is a global average pool.
        return linear(globalAveragePool(h), scope, "linear", out: classes, isClassifier: true)
    }

    /// `PreActBlock`: BN–ReLU comes first; a projecting shortcut reads the activated input,
    /// an identity shortcut the raw input (exactly as the reference's `forward`).
    func preActBlock(_ x: Tensor, _ scope: Scope, out: Int, stride: Int) -> Tensor {
        let activated = relu(batchNorm(x, scope, "bn1"))
        let needsProjection = stride != 1 || x.shape[1] != out
        let shortcut = needsProjection
            ? conv2d(activated, scope.child("shortcut"), "0", out: out, kernel: 1, stride: stride)
            : x
        var h = conv2d(activated, scope, "conv1", out: out, kernel: 3, stride: stride, padding: 1)
        h = conv2d(relu(batchNorm(h, scope, "bn2")), scope, "conv2", out: out, kernel: 3, padding: 1)
        return h + shortcut
    }

    /// Nil when an H×W input reaches exactly 4×4 after the three stride-2 stages (32×32
    /// and 28×28 both do), else what the network needs.
    public static func inputProblem(height: Int, width: Int) -> String? {
        finalMapProblem(height: height, width: width, strides: stages.map(\.stride), window: finalPoolWindow)
    }
}
