import Graph

/// VGG16 with BatchNorm, CIFAR variant (kuangliu/pytorch-cifar `models/vgg.py`): every
/// configuration entry is conv 3×3 (padding 1, with bias)–BN–ReLU, every `M` a 2×2 max
/// pool, then one linear layer on the 1×1×512 map. 14,728,266 parameters for 10 classes.
public struct VGG16: Model {
    public var classes: Int

    enum Entry { case conv(out: Int), maxPool }

    static let configuration: [Entry] = [
        .conv(out: 64), .conv(out: 64), .maxPool,
        .conv(out: 128), .conv(out: 128), .maxPool,
        .conv(out: 256), .conv(out: 256), .conv(out: 256), .maxPool,
        .conv(out: 512), .conv(out: 512), .conv(out: 512), .maxPool,
        .conv(out: 512), .conv(out: 512), .conv(out: 512), .maxPool,
    ]

    public init(classes: Int = 10) { self.classes = classes }

    public var name: String { "vgg16" }

    public func logits(_ x: Tensor, _ scope: Scope) -> Tensor {
        let features = scope.child("features")
        // Names follow the PyTorch `nn.Sequential` indices: a conv entry occupies three
        // slots (conv, BN, ReLU) and a max pool one, so BN weights sit at conv index + 1.
        var index = 0
        var h = x
        for entry in Self.configuration {
            switch entry {
            case .conv(let out):
                h = conv2d(h, features, "\(index)", out: out, kernel: 3, padding: 1, bias: true)
                h = relu(batchNorm(h, features, "\(index + 1)"))
                index += 3
            case .maxPool:
                h = maxPool(h, window: 2)
                index += 1
            }
        }
        // The reference's trailing AvgPool2d(1) is the identity; flatten the 1×1 map.
        return linear(h.reshaped([h.shape[0], h.shape[1] * h.shape[2] * h.shape[3]]), scope, "classifier", out: classes, isClassifier: true)
    }

    /// Nil when five 2×2 max pools (which here need even sizes) take H×W to 1×1, so the
    /// classifier sees 512 features; that is 32×32 only.
    public static func inputProblem(height: Int, width: Int) -> String? {
        if height == 32 && width == 32 { return nil }
        return "needs 32×32 input (five 2×2 max pools down to 1×1 for its 512-feature classifier), got \(height)×\(width)"
    }
}
