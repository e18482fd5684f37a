import Attacks
import Executor
import Foundation
import Graph
import Landscapes
import Recipe
import Testing
import Training

@Test("the input landscape's centre is the loss the evaluator's graph computes on the unperturbed images")
func inputCentreIsEvaluatorLoss() throws {
    let (_, run, _) = try sharedRuns.get()
    let recipe = try RecipeLoader.load(path: run + "/recipe.yaml")
    let grid = try inputLandscape(recipe: recipe, checkpoint: run + "/best.safetensors", run: "run",
                                  options: LandscapeOptions(images: 4, points: 5, seed: 3))
    #expect(grid.loss.count == 5 && grid.loss.allSatisfy { $0.count == 5 })
    #expect(grid.alphas[2] == 0 && grid.betas[2] == 0)
    #expect(Set(grid.imageIndices).count == 4)

    // The evaluator's cross-entropy: the attack loss graph (eval-mode BN) of the same model.
    let setup = try RunSetup(recipe: recipe)
    let state = try setup.evaluationState(checkpoint: run + "/best.safetensors")
    let model = try AttackedModel(model: setup.model, inputShape: [4, 1, 28, 28], classes: 10, compiler: fastCompiler)
    try model.load(weights: state.parameters.merging(state.buffers) { a, _ in a })
    let split = try setup.split("test", key: "eval.split")
    var images = [Float]()
    for i in grid.imageIndices { images += split.pixels[(i * 784)..<((i + 1) * 784)].map { Float($0) / 255 } }
    let losses = try model.lossAndGradient(.crossEntropy, at: images, labels: grid.imageIndices.map { split.labels[$0] }).loss
    let mean = losses.map(Double.init).reduce(0, +) / 4
    #expect(abs(grid.centre - mean) < 1e-4 * max(1, mean), "centre \(grid.centre), evaluator \(mean)")
    // Moving along sign ∇ raises the loss at first (first-order ascent direction).
    #expect(grid.loss[2][3] > grid.centre)
}

@Test("a filter-normalised direction has each filter's norm equal to the weight's; biases and BN get zero")
func filterNormalised() {
    var rng = SplitMix64(seed: 7)
    let conv = (0..<(4 * 3 * 3 * 3)).map { _ in Float(rng.normal()) * 0.3 }
    let linear = (0..<(10 * 16)).map { _ in Float(rng.normal()) }
    let weights = ["conv.weight": conv, "conv.bias": [Float](repeating: 0.5, count: 4), "bn.weight": [1, 1, 1, 1],
                   "fc.weight": linear]
    let shapes = ["conv.weight": [4, 3, 3, 3], "conv.bias": [4], "bn.weight": [4], "fc.weight": [10, 16]]
    var directionRNG = SplitMix64(seed: 11)
    let direction = filterNormalizedDirection(weights: weights, shapes: shapes, rng: &directionRNG)
    func norm(_ values: ArraySlice<Float>) -> Double { sqrt(values.reduce(0) { $0 + Double($1) * Double($1) }) }
    for (name, size) in [("conv.weight", 27), ("fc.weight", 16)] {
        let w = weights[name]!, d = direction[name]!
        #expect(d.count == w.count)
        for f in 0..<(w.count / size) {
            let range = (f * size)..<((f + 1) * size)
            #expect(abs(norm(d[range]) - norm(w[range])) < 1e-5 * norm(w[range]), "\(name) filter \(f)")
        }
        #expect(d != w)
    }
    #expect(direction["conv.bias"]! == [0, 0, 0, 0] && direction["bn.weight"]! == [0, 0, 0, 0])
}

@Test("rat landscape --input and --weights write a well-formed SVG, the grid CSV and a flatness summary")
func landscapeCommand() throws {
    let (folder, run, other) = try sharedRuns.get()
    let base = folder + "/input-pair"
    #expect(rat(["landscape", run, other, "--input", "--images", "2", "--points", "5", "--output", base]) == 0)
    for ext in ["svg", "csv", "json"] { #expect(exists(base + "." + ext)) }
    #expect(try wellFormed(file: base + ".svg") != false)
    let csv = try read(base + ".csv").split(separator: "\n")
    #expect(csv.count == 1 + 2 * 25)
    let summary = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: base + ".json"))) as! [String: Any]
    #expect((summary["runs"] as! [[String: Any]]).count == 2)

    #expect(rat(["landscape", run, "--weights", "--images", "4", "--points", "3", "--curve-points", "3"]) == 0)
    let weights = run + "/landscape-weights"
    #expect(try wellFormed(file: weights + ".svg") != false)
    let rows = try read(weights + ".csv").split(separator: "\n").dropFirst().map { $0.split(separator: ",") }
    #expect(rows.count == 3 + 9)
    // The same PGD draw at the same (unperturbed) weights: the curve's and the grid's centres agree.
    let centres = rows.filter { $0[2] == "0.0" && $0[3] == "0.0" || $0[2] == "0.0" && $0[3] == "0" }.map { Double($0[4])! }
    #expect(centres.count == 2 && abs(centres[0] - centres[1]) < 1e-9)
}

@Test("a landscape of a run whose checkpoint does not fit its model is a clear error, exit 1")
func checkpointMismatch() throws {
    let (folder, run, _) = try sharedRuns.get()
    let broken = folder + "/broken"
    try FileManager.default.createDirectory(atPath: broken, withIntermediateDirectories: true)
    let recipe = try read(run + "/recipe.yaml").replacingOccurrences(of: "name: small-cnn", with: "name: mlp")
    try Data(recipe.utf8).write(to: URL(fileURLWithPath: broken + "/recipe.yaml"))
    try FileManager.default.copyItem(atPath: run + "/best.safetensors", toPath: broken + "/best.safetensors")
    #expect(rat(["landscape", broken, "--input", "--images", "2", "--points", "3"]) == 1)
    #expect(!exists(broken + "/landscape-input.svg"))
    #expect(rat(["landscape", folder + "/absent", "--input"]) == 1)
}
