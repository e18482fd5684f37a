import Graph
import Models
import Testing

/// The authors' soft-label terms read the input of each model's final linear layer; every
/// zoo model must mark that layer, once per forward pass, with the classifier's width.
@Test("every zoo model records its classifier input h [N, F] once per forward pass",
      arguments: ModelZoo.names)
func zooModelsRecordClassifierInput(name: String) throws {
    let inputShape = name == "mlp" || name == "lenet" ? [2, 1, 28, 28] : [2, 3, 32, 32]
    let model = try ModelZoo.make(name: name, options: [:], classes: 7, inputShape: inputShape)
    let builder = GraphBuilder()
    let scope = Scope(builder: builder, mode: .train)
    _ = model.logits(builder.input("input/clean", shape: inputShape), scope)
    _ = model.logits(builder.input("input/adversarial", shape: inputShape), scope)
    #expect(scope.classifierInputs.count == 2)
    // The classifier is the last layer declared: its weight is [classes, F].
    let weight = try #require(scope.parameters.last { $0.name.hasSuffix(".weight") })
    #expect(weight.shape.count == 2 && weight.shape[0] == 7)
    for features in scope.classifierInputs {
        #expect(features.shape == [2, weight.shape[1]], "\(name): features \(features.shape), classifier \(weight.shape)")
    }
}
