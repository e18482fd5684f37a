import Checkpoints
import Foundation
import Graph
import Models
import Objectives
import Testing

/// PyTorch's float64 values for small-cnn (decomposed train-mode BN, torch.func):
/// logits, J·u, uᵀHu, the four loss terms and the gradient of their weighted sum
/// (written by scripts/golden/make-small-cnn-taylor.py).
@Test("small-cnn matches PyTorch's float64 golden values: logits, J·u, uᵀHu, losses, gradients")
func goldenSmallCNN() throws {
    // Shared with CheckpointsTests: Tests/Fixtures/, found from this file's place in Tests/GraphTests/.
    let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/small-cnn-taylor.safetensors").path
    let golden = try SafeTensors.read(path: path)
    func tensor(_ name: String) throws -> DTensor {
        DTensor(shape: try golden.shape(name), data: try golden.float64(name))
    }
    let inputShape = try golden.shape("input/clean")
    let labels = try golden.float64("label").map(Int.init)
    let classes = 10
    let training = buildTrainingGraph(model: SmallCNN(classes: classes), inputShape: inputShape, classes: classes,
                                      terms: StandardLoss.trades(beta: 6, firstOrder: 0.2, secondOrder: 0.2))
    var feed = ["input/clean": try tensor("input/clean"), "input/adversarial": try tensor("input/adversarial")]
    var onehot = DTensor(repeating: 0, shape: [inputShape[0], classes])
    for (i, y) in labels.enumerated() { onehot.data[i * classes + y] = 1 }
    feed["label"] = onehot
    for p in training.parameters {
        feed[p.name] = try tensor("param/\(p.name)")
        feed["noise/\(p.name)"] = try tensor("noise/\(p.name)")
    }
    for term in training.terms { feed["weight/\(term.name)"] = DTensor(repeating: term.weight, shape: []) }
    let out = try evaluateReference(training.graph, inputs: feed)

    let views: [(String, View)] = [
        ("logits/clean", View(.clean)), ("logits/adversarial", View(.adversarial)),
        ("jvp1/clean", View(.clean, order: 1)), ("jvp1/adversarial", View(.adversarial, order: 1)),
        ("jvp2/clean", View(.clean, order: 2)), ("jvp2/adversarial", View(.adversarial, order: 2)),
    ]
    for (name, view) in views {
        let index = try #require(training.layout.views[view])
        #expect(relativeError(out[index], try tensor(name)) < 1e-9, "\(name)")
    }
    for (k, term) in training.terms.enumerated() {
        let expected = try golden.float64("loss/\(term.name)")[0]
        let got = out[training.layout.terms.lowerBound + k].data[0]
        #expect(abs(got - expected) <= 1e-9 * max(abs(expected), 1e-6), "loss/\(term.name): \(got) vs \(expected)")
    }
    #expect(abs(out[training.layout.total].data[0] - (try golden.float64("loss/total")[0])) < 1e-9)
    for (i, p) in training.parameters.enumerated() {
        let got = out[training.layout.gradients.lowerBound + i]
        #expect(relativeError(got, try tensor("grad/\(p.name)")) < 1e-8, "grad/\(p.name)")
    }
}
