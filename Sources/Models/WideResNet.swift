import Foundation
import Graph

/// WideResNet-depth-width as in the TRADES reference (`models/wideresnet.py`), with its
/// parameter names and initializers. WRN-34-10 has 46,160,474 parameters for 10 classes.
///
/// The reference also builds a `sub_block1` that its `forward` never uses; its weights
/// appear in PyTorch checkpoints but are not part of this network (nor of the count).
/// The reference's dropout defaults to off (dropRate 0.0), so it is left out.
public struct WideResNet: Model {
    public var depth: Int
    public var widthFactor: Int
    public var classes: Int

    /// The reference pools with a fixed 8×8 window and flattens to 64·width features, so
    /// the last stage must come out at exactly 8×8.
    static let finalPoolWindow = 8
    static let stageStrides = [1, 2, 2]

    public init(depth: Int = 34, widthFactor: Int = 10, classes: Int = 10) {
        self.depth = depth
        self.widthFactor = widthFactor
        self.classes = classes
    }

    public var name: String { "wide-resnet-\(depth)-\(widthFactor)" }

    /// Blocks per stage: n = (depth − 4) / 6.
    public var blocksPerStage: Int { (depth - 4) / 6 }

    /// Nil when `depth` has n ≥ 1 blocks per stage, else why not.
    public static func depthProblem(_ depth: Int) -> String? {
        depth >= 10 && (depth - 4) % 6 == 0 ? nil : "depth must be 6n + 4 with n ≥ 1 (10, 16, 22, 28, 34, …)"
    }

    /// Nil for a usable width factor, else why not.
    public static func widthProblem(_ widthFactor: Int) -> String? {
        widthFactor >= 1 ? nil : "width must be at least 1"
    }

    public func logits(_ x: Tensor, _ scope: Scope) -> Tensor {
        let widths = [16 * widthFactor, 32 * widthFactor, 64 * widthFactor]
        var h = conv2d(x, scope, "conv1", out: 16, kernel: 3, padding: 1, initializer: Self.convInit(3, out: 16))
        for (index, (width, stride)) in zip(widths, Self.stageStrides).enumerated() {
            let stage = scope.child("block\(index + 1)").child("layer")
            for block in 0..<blocksPerStage {
                h = basicBlock(h, stage.child("\(block)"), out: width, stride: block == 0 ? stride : 1)
            }
        }
        h = relu(batchNorm(h, scope, "bn1"))
        // On the 8×8 map the reference's `avg_pool2d(out, 8)` is a global average pool.
        return linear(globalAveragePool(h), scope, "fc", out: classes, biasInitializer: .constant(0), isClassifier: true)
    }

    /// `BasicBlock` with the reference's `equalInOut` logic: when the width changes, the
    /// block's input is replaced by its BN–ReLU activation, which then feeds both `conv1`
    /// and `convShortcut`; otherwise `conv1` reads the activation and the identity
    /// shortcut the raw input.
    func basicBlock(_ x: Tensor, _ scope: Scope, out: Int, stride: Int) -> Tensor {
        let equalInOut = x.shape[1] == out
        let activated = relu(batchNorm(x, scope, "bn1"))
        var h = conv2d(activated, scope, "conv1", out: out, kernel: 3, stride: stride, padding: 1,
                       initializer: Self.convInit(3, out: out))
        h = relu(batchNorm(h, scope, "bn2"))
        h = conv2d(h, scope, "conv2", out: out, kernel: 3, padding: 1, initializer: Self.convInit(3, out: out))
        let shortcut = equalInOut
            ? x
            : conv2d(activated, scope, "convShortcut", out: out, kernel: 1, stride: stride,
                     initializer: Self.convInit(1, out: out))
        return shortcut + h
    }

    /// The reference's conv init: N(0, 2 / (k·k·out)), He init over the fan-out.
    static func convInit(_ kernel: Int, out: Int) -> Initializer {
        .normal(std: Foundation.sqrt(2 / Double(kernel * kernel * out)))
    }

    /// Nil when an H×W input reaches exactly 8×8 after the two stride-2 stages (32×32
    /// does, 28×28 does not), else what the network needs.
    public static func inputProblem(height: Int, width: Int) -> String? {
        finalMapProblem(height: height, width: width, strides: stageStrides, window: finalPoolWindow)
    }
}
