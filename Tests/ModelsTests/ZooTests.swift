import Foundation
import Graph
import Models
import Testing

// MARK: Helpers

private func parameterCount(_ model: any Model, inputShape: [Int]) -> Int {
    model.parameters(inputShape: inputShape).reduce(0) { $0 + $1.count }
}

private func parameterNames(_ model: any Model, inputShape: [Int]) -> Set<String> {
    Set(model.parameters(inputShape: inputShape).map(\.name))
}

private func outputShape(_ model: any Model, inputShape: [Int]) -> [Int] {
    let forward = model.forwardGraph(inputShape: inputShape, mode: .eval)
    return forward.graph.nodes[forward.graph.outputs[0]].shape
}

/// Deterministic pseudo-random values in [−1, 1) (a 64-bit LCG), so failures reproduce.
private struct Values {
    var state: UInt64
    mutating func next() -> Double {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Double(state >> 11) / Double(1 << 53) * 2 - 1
    }
    mutating func tensor(_ shape: [Int], scale: Double = 1, offset: Double = 0) -> DTensor {
        DTensor(shape: shape, data: (0..<shape.reduce(1, *)).map { _ in next() * scale + offset })
    }
}

/// Runs `model` on a random batch in the Double reference backend and returns the logits.
private func referenceLogits(_ model: any Model, inputShape: [Int], mode: NormalizationMode) throws -> DTensor {
    let forward = model.forwardGraph(inputShape: inputShape, mode: mode)
    var values = Values(state: 42)
    var inputs = ["input": values.tensor(inputShape, scale: 0.5, offset: 0.5)]  // images in [0, 1]
    for p in forward.parameters { inputs[p.name] = values.tensor(p.shape, scale: 0.3) }
    for b in forward.buffers { inputs[b.name] = DTensor(repeating: b.initial, shape: b.shape) }
    return try evaluateReference(forward.graph, inputs: inputs)[0]
}

private let cifar = [1, 3, 32, 32]

// MARK: Parameter counts against the PyTorch reference implementations

@Test func preActResNet18MatchesReferenceCounts() throws {
    let ten = try ModelZoo.make(name: "preact-resnet18", options: [:], classes: 10, inputShape: cifar)
    let hundred = try ModelZoo.make(name: "preact-resnet18", options: [:], classes: 100, inputShape: cifar)
    #expect(parameterCount(ten, inputShape: cifar) == 11_172_170)
    #expect(parameterCount(hundred, inputShape: cifar) == 11_218_340)
}

@Test func wideResNet34x10MatchesReferenceCounts() throws {
    let ten = try ModelZoo.make(name: "wide-resnet", options: [:], classes: 10, inputShape: cifar)
    let hundred = try ModelZoo.make(name: "wide-resnet", options: ["depth": 34, "width": 10], classes: 100, inputShape: cifar)
    #expect(parameterCount(ten, inputShape: cifar) == 46_160_474)
    #expect(parameterCount(hundred, inputShape: cifar) == 46_218_164)
}

@Test func vgg16AndMobileNetV2MatchReferenceCounts() throws {
    let vgg = try ModelZoo.make(name: "vgg16", options: [:], classes: 10, inputShape: cifar)
    let mobileNet = try ModelZoo.make(name: "mobilenet-v2", options: [:], classes: 10, inputShape: cifar)
    #expect(parameterCount(vgg, inputShape: cifar) == 14_728_266)
    #expect(parameterCount(mobileNet, inputShape: cifar) == 2_296_922)
}

@Test func smallModelsHaveTheirLayerArithmetic() throws {
    let mnist = [1, 1, 28, 28]
    let mlp = try ModelZoo.make(name: "mlp", options: [:], classes: 10, inputShape: mnist)
    let lenet = try ModelZoo.make(name: "lenet", options: [:], classes: 10, inputShape: mnist)
    #expect(parameterCount(mlp, inputShape: mnist) == 784 * 256 + 256 + 256 * 256 + 256 + 256 * 10 + 10)
    #expect(parameterCount(lenet, inputShape: mnist)
        == (6 * 25 + 6) + (16 * 6 * 25 + 16) + (400 * 120 + 120) + (120 * 84 + 84) + (84 * 10 + 10))
    // Other sizes: the flatten width follows the input (16·6·6 at 32×32).
    let lenet32 = try ModelZoo.make(name: "lenet", options: [:], classes: 10, inputShape: [1, 3, 32, 32])
    #expect(lenet32.parameters(inputShape: [1, 3, 32, 32]).first { $0.name == "fc1.weight" }?.shape == [120, 576])
}

// MARK: Parameter names and initializers as in the PyTorch code

@Test func parameterNamesMatchPyTorch() throws {
    let preAct = parameterNames(PreActResNet18(), inputShape: cifar)
    for name in ["conv1.weight", "layer1.0.bn1.weight", "layer1.0.bn1.bias", "layer1.1.conv2.weight",
                 "layer2.0.shortcut.0.weight", "layer4.1.bn2.bias", "bn.weight", "linear.weight", "linear.bias"] {
        #expect(preAct.contains(name), "preact-resnet18 lacks \(name)")
    }
    #expect(!preAct.contains("layer1.0.shortcut.0.weight"), "layer1 keeps its width: identity shortcut")

    let wide = parameterNames(WideResNet(), inputShape: cifar)
    for name in ["conv1.weight", "block1.layer.0.convShortcut.weight", "block1.layer.4.bn2.weight",
                 "block3.layer.0.conv1.weight", "bn1.weight", "fc.weight", "fc.bias"] {
        #expect(wide.contains(name), "wide-resnet lacks \(name)")
    }
    #expect(!wide.contains("block1.layer.1.convShortcut.weight"))

    let vgg = parameterNames(VGG16(), inputShape: cifar)
    for name in ["features.0.weight", "features.0.bias", "features.1.weight", "features.1.bias",
                 "features.3.weight", "features.7.weight", "features.41.weight", "classifier.weight"] {
        #expect(vgg.contains(name), "vgg16 lacks \(name)")
    }

    let mobileNet = parameterNames(MobileNetV2(), inputShape: cifar)
    for name in ["conv1.weight", "bn1.weight", "layers.0.conv2.weight", "layers.0.shortcut.0.weight",
                 "layers.0.shortcut.1.weight", "layers.16.bn3.bias", "conv2.weight", "linear.bias"] {
        #expect(mobileNet.contains(name), "mobilenet-v2 lacks \(name)")
    }
    #expect(!mobileNet.contains("layers.3.shortcut.0.weight"), "strided blocks have no shortcut")
}

@Test func wideResNetUsesTheReferenceInitializers() {
    let parameters = WideResNet(depth: 16, widthFactor: 2).parameters(inputShape: cifar)
    let byName = Dictionary(uniqueKeysWithValues: parameters.map { ($0.name, $0) })
    #expect(byName["block1.layer.0.conv1.weight"]?.initializer == .normal(std: (2.0 / (9 * 32)).squareRoot()))
    #expect(byName["block1.layer.0.convShortcut.weight"]?.initializer == .normal(std: (2.0 / 32).squareRoot()))
    #expect(byName["fc.bias"]?.initializer == .constant(0))
    #expect(byName["bn1.weight"]?.initializer == .constant(1))
}

@Test func depthwiseConvolutionHasOneInputChannelPerGroup() {
    let parameters = MobileNetV2().parameters(inputShape: cifar)
    #expect(parameters.first { $0.name == "layers.1.conv2.weight" }?.shape == [96, 1, 3, 3])
}

// MARK: Forward passes

@Test(arguments: ["preact-resnet18", "wide-resnet", "vgg16", "mobilenet-v2"])
func bigModelsBuildGraphsWithLogitShape(name: String) throws {
    let shape = [2, 3, 32, 32]
    let model = try ModelZoo.make(name: name, options: name == "wide-resnet" ? ["depth": 16, "width": 2] : [:],
                                  classes: 7, inputShape: shape)
    #expect(outputShape(model, inputShape: shape) == [2, 7])
}

@Test func preActResNetAndMobileNetAlsoTake28x28() throws {
    let shape = [2, 1, 28, 28]
    for name in ["preact-resnet18", "mobilenet-v2"] {
        let model = try ModelZoo.make(name: name, options: [:], classes: 10, inputShape: shape)
        #expect(outputShape(model, inputShape: shape) == [2, 10])
    }
}

@Test(arguments: [("mlp", [2, 1, 28, 28]), ("lenet", [2, 1, 28, 28]), ("small-cnn", [2, 3, 8, 8]),
                  ("mlp", [2, 3, 6, 5]), ("lenet", [2, 1, 12, 16])])
func smallModelsGiveFiniteLogitsInTheReferenceBackend(name: String, shape: [Int]) throws {
    let model = try ModelZoo.make(name: name, options: name == "mlp" ? ["hidden": 16] : [:], classes: 10, inputShape: shape)
    for mode in [NormalizationMode.eval, .train] {
        let logits = try referenceLogits(model, inputShape: shape, mode: mode)
        #expect(logits.shape == [2, 10])
        #expect(logits.data.allSatisfy { $0.isFinite })
        #expect(Set(logits.data).count > 1, "logits should depend on the weights, not be constant")
    }
}

/// The smallest WRN (depth 10, width 1: one block per stage) is cheap enough for the
/// reference backend and runs both block kinds (identity and `convShortcut`).
@Test func smallestWideResNetGivesFiniteLogitsInTheReferenceBackend() throws {
    let shape = [2, 3, 32, 32]
    let model = try ModelZoo.make(name: "wide-resnet", options: ["depth": 10, "width": 1], classes: 10, inputShape: shape)
    let logits = try referenceLogits(model, inputShape: shape, mode: .train)
    #expect(logits.shape == [2, 10])
    #expect(logits.data.allSatisfy { $0.isFinite })
}

// MARK: Errors instead of crashes

@Test func unknownModelListsTheKnownOnes() {
    #expect(throws: ModelError.unknownModel(name: "resnet50", known: ModelZoo.names)) {
        try ModelZoo.make(name: "resnet50", options: [:], classes: 10, inputShape: cifar)
    }
    let message = ModelError.unknownModel(name: "resnet50", known: ModelZoo.names).description
    #expect(message.contains("preact-resnet18") && message.contains("lenet"))
    #expect(ModelZoo.names == ["small-cnn", "preact-resnet18", "wide-resnet", "vgg16", "mobilenet-v2", "mlp", "lenet"])
}

@Test func unknownAndInvalidOptionsAreRejected() {
    #expect(throws: ModelError.unknownOption(model: "wide-resnet", option: "widen", known: ["depth", "width"])) {
        try ModelZoo.make(name: "wide-resnet", options: ["widen": 10], classes: 10, inputShape: cifar)
    }
    #expect(throws: ModelError.unknownOption(model: "vgg16", option: "depth", known: [])) {
        try ModelZoo.make(name: "vgg16", options: ["depth": 16], classes: 10, inputShape: cifar)
    }
    #expect(throws: ModelError.self) {
        try ModelZoo.make(name: "wide-resnet", options: ["depth": 33], classes: 10, inputShape: cifar)
    }
    #expect(throws: ModelError.self) {
        try ModelZoo.make(name: "wide-resnet", options: ["width": 0], classes: 10, inputShape: cifar)
    }
    #expect(throws: ModelError.invalidClassCount(model: "mlp", classes: 0)) {
        try ModelZoo.make(name: "mlp", options: [:], classes: 0, inputShape: [1, 28, 28])
    }
}

@Test(arguments: [("wide-resnet", [1, 28, 28]), ("vgg16", [2, 1, 28, 28]), ("preact-resnet18", [3, 36, 36]),
                  ("mobilenet-v2", [3, 64, 64]), ("lenet", [1, 30, 30]), ("small-cnn", [3, 32]),
                  ("mlp", [2, 1, 0, 28])])
func inputsAModelCannotTakeAreRejected(name: String, shape: [Int]) {
    do {
        _ = try ModelZoo.make(name: name, options: [:], classes: 10, inputShape: shape)
        Issue.record("\(name) accepted \(shape)")
    } catch let error as ModelError {
        guard case .unsupportedInput(let model, let reported, let reason) = error else {
            Issue.record("unexpected error \(error)")
            return
        }
        #expect(model == name && reported == shape && !reason.isEmpty)
        #expect(error.description.contains("\(shape)"))
    } catch {
        Issue.record("unexpected error \(error)")
    }
}

@Test func geometryMessagesSayWhatIsNeeded() {
    let error = #expect(throws: ModelError.self) {
        try ModelZoo.make(name: "wide-resnet", options: [:], classes: 10, inputShape: [1, 1, 28, 28])
    }
    let message = error?.description ?? ""
    #expect(message.contains("32×32") && message.contains("7×7"), "\(message)")
}
