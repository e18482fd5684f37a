import Executor
import Checkpoints
import Foundation
import Graph
import Loader
import Objectives
import Recipe
import Testing
import Training

/// The dump is what an outside framework would read: re-evaluating the training graph in
/// Double from the dumped inputs must give the dumped views, losses and gradients.
@Test("rat step's dump holds every tensor of the step, consistent with the Double reference")
func stepDumpIsConsistent() throws {
    let recipe = try RecipeLoader.load(path: repositoryRoot + "/recipes/quickstart.yaml", overrides: [
        "data.path=\(repositoryRoot)/datasets/fashion-mnist-small", "schedule.batch=4", "threat.steps=2",
    ])
    let dataset = try Dataset.open(recipe.data.path)
    let model = try makeModel(recipe, channels: 1, height: 28, width: 28, classes: 10)
    let program = try StepProgram(recipe: recipe, model: model, inputShape: [4, 1, 28, 28], classes: 10, compiler: fastCompiler)
    var state = TrainState(parameters: program.training.parameters, buffers: program.training.buffers, seed: 0)
    let batch = BatchLoader(split: try dataset.split("train"), batchSize: 4, seed: 0, prefetch: false).batch(epoch: 0, index: 0)
    _ = try program.step(&state, images: batch.images, labels: batch.labels, lr: 0, update: false)
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("rat-step-\(getpid()).safetensors").path
    defer { try? FileManager.default.removeItem(atPath: path) }
    try dumpStep(program, labels: batch.labels, to: path)
    let dump = try SafeTensors.read(path: path)

    for p in program.training.parameters {
        for prefix in ["param", "noise", "grad"] { #expect(try dump.shape("\(prefix)/\(p.name)") == p.shape) }
    }
    for name in ["logits", "jvp1", "jvp2"].flatMap({ ["\($0)/clean", "\($0)/adversarial"] }) {
        #expect(try dump.shape(name) == [4, 10])
    }
    #expect(try dump.int64("label") == batch.labels.map(Int64.init))
    #expect(dump.metadata["recipe"]?.contains("name: quickstart") == true)

    // Re-evaluate in Double from the dump.
    let training = program.training
    var feed = [String: DTensor]()
    for p in training.parameters {
        feed[p.name] = DTensor(shape: p.shape, data: try dump.float64("param/\(p.name)"))
        feed["noise/\(p.name)"] = DTensor(shape: p.shape, data: try dump.float64("noise/\(p.name)"))
    }
    for kind in ["clean", "adversarial"] { feed["input/\(kind)"] = DTensor(shape: [4, 1, 28, 28], data: try dump.float64("input/\(kind)")) }
    var onehot = DTensor(repeating: 0, shape: [4, 10])
    for (i, y) in batch.labels.enumerated() { onehot.data[i * 10 + Int(y)] = 1 }
    feed["label"] = onehot
    for term in training.terms { feed["weight/\(term.name)"] = DTensor(repeating: term.weight, shape: []) }
    let reference = try evaluateReference(training.graph, inputs: feed)

    for (view, index) in training.layout.views {
        let name = "\(["logits", "jvp1", "jvp2"][view.order])/\(view.input.rawValue)"
        #expect(relativeError(reference[index], DTensor(shape: [4, 10], data: try dump.float64(name))) < 1e-4, "\(name)")
    }
    let total = try dump.float64("loss/total")[0]
    #expect(abs(reference[training.layout.total].data[0] - total) < 1e-4 * abs(total))
    for (i, p) in training.parameters.enumerated() {
        let dumped = DTensor(shape: p.shape, data: try dump.float64("grad/\(p.name)"))
        #expect(relativeError(reference[training.layout.gradients.lowerBound + i], dumped) < 1e-3, "grad/\(p.name)")
    }
}
