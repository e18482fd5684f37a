import Attacks
import Evaluation
import Executor
import Graph
import Models
import Testing

/// A masked classifier: sign(W·x) saturates its logits, so every input gradient is zero.
private struct SignClassifier: Model {
    var name: String { "sign" }
    func logits(_ x: Tensor, _ scope: Scope) -> Tensor {
        let flat = x.reshaped([x.shape[0], x.shape.dropFirst().reduce(1, *)])
        return sign(linear(flat, scope, "fc", out: 4, isClassifier: true)) * 3
    }
}

private struct PlainClassifier: Model {
    var name: String { "plain" }
    func logits(_ x: Tensor, _ scope: Scope) -> Tensor {
        linear(x.reshaped([x.shape[0], x.shape.dropFirst().reduce(1, *)]), scope, "fc", out: 4, isClassifier: true)
    }
}

private func flags(_ model: any Model) throws -> [MaskingFlag] {
    let shape = [8, 1, 4, 4]
    var rng = SplitMix64(seed: 3)
    let attacked = try AttackedModel(model: model, inputShape: shape, classes: 4, compiler: fastCompiler)
    let parameters = model.forwardGraph(inputShape: shape, mode: .eval).parameters
    try attacked.load(weights: Dictionary(uniqueKeysWithValues: parameters.map { p in
        (p.name, (0..<p.shape.reduce(1, *)).map { _ in Float(rng.normal()) })
    }))
    let images = (0..<(8 * 16)).map { _ in Float(rng.uniform()) }
    return try passFlags(attacked, images: images, labels: (0..<8).map { Int32($0 % 4) }, eot: 1)
}

@Test("a masked model (a final sign) raises the zero-gradient flag with its share; a linear one does not")
func zeroGradientFlag() throws {
    let masked = try flags(SignClassifier())
    let flag = try #require(masked.first { $0.name == "zero-gradients" })
    #expect(flag.values["zero_gradient_share"] == 1)
    #expect(try flags(PlainClassifier()).isEmpty)
}
