import Graph

/// MobileNetV2, CIFAR variant (kuangliu/pytorch-cifar `models/mobilenetv2.py`): stride 1
/// in the stem and in the second stage, so a 32×32 input ends at 4×4. Parameter names as
/// in that code. 2,296,922 parameters for 10 classes.
public struct MobileNetV2: Model {
    public var classes: Int

    /// (expansion, out channels, blocks, stride of the first block) per stage.
    static let stages: [(expansion: Int, out: Int, blocks: Int, stride: Int)] = [
        (1, 16, 1, 1), (6, 24, 2, 1), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1),
    ]
    static let finalPoolWindow = 4

    public init(classes: Int = 10) { self.classes = classes }

    public var name: String { "mobilenet-v2" }

    public func logits(_ x: Tensor, _ scope: Scope) -> Tensor {
        var h = relu(batchNorm(conv2d(x, scope, "conv1", out: 32, kernel: 3, padding: 1), scope, "bn1"))
        let layers = scope.child("layers")
        var blockIndex = 0
        for stage in Self.stages {
            for block in 0..<stage.blocks {
                h = invertedResidual(h, layers.child("\(blockIndex)"), expansion: stage.expansion, out: stage.out,
                                     stride: block == 0 ? stage.stride : 1)
                blockIndex += 1
            }
        }
        h = relu(batchNorm(conv2d(h, scope, "conv2", out: 1280, kernel: 1), scope, "bn2"))
        // On the 4×4 map the reference's `avg_pool2d(out, 4)` is a global average pool.
        return linear(globalAveragePool(h), scope, "linear", out: classes, isClassifier: true)
    }

    /// `Block`: 1×1 expand, 3×3 depthwise (carrying the stride), 1×1 linear projection.
    /// Stride-1 blocks add a shortcut (identity, or conv–BN when the width changes);
    /// strided blocks have none.
    func invertedResidual(_ x: Tensor, _ scope: Scope, expansion: Int, out: Int, stride: Int) -> Tensor {
        let inChannels = x.shape[1]
        let planes = expansion * inChannels
        var h = relu(batchNorm(conv2d(x, scope, "conv1", out: planes, kernel: 1), scope, "bn1"))
        h = conv2d(h, scope, "conv2", out: planes, kernel: 3, stride: stride, padding: 1, groups: planes)
        h = relu(batchNorm(h, scope, "bn2"))
        h = batchNorm(conv2d(h, scope, "conv3", out: out, kernel: 1), scope, "bn3")
        guard stride == 1 else { return h }
        if inChannels == out { return h + x }
        let shortcut = scope.child("shortcut")
        return h + batchNorm(conv2d(x, shortcut, "0", out: out, kernel: 1), shortcut, "1")
    }

    /// Nil when an H×W input reaches exactly 4×4 after the three stride-2 stages (32×32
    /// and 28×28 both do), else what the network needs. Only the strided depthwise
    /// convolutions change the size.
    public static func inputProblem(height: Int, width: Int) -> String? {
        finalMapProblem(height: height, width: width, strides: stages.map(\.stride), window: finalPoolWindow)
    }
}
