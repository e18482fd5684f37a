import Executor
import Graph
import Models
import Recipe
import Testing
import Training

/// A TRADES step program with AWP on from the first epoch, on a small CNN and random data.
func awpProgram(gamma: Double) throws -> (StepProgram, TrainState, [Float], [Int32]) {
    let recipe = try RecipeLoader.load(path: repositoryRoot + "/recipes/trades.yaml", overrides: [
        "awp.enabled=true", "awp.warmup=0", "awp.gamma=\(gamma)", "threat.steps=2",
    ])
    let shape = [4, 3, 8, 8]
    let program = try StepProgram(recipe: recipe, model: SmallCNN(classes: 5, widths: [4, 6]), inputShape: shape,
                                  classes: 5, compiler: fastCompiler)
    let state = TrainState(parameters: program.training.parameters, buffers: program.training.buffers, seed: 3)
    var rng = SplitMix64(seed: 9)
    let images = (0..<shape.reduce(1, *)).map { _ in Float(rng.uniform()) }
    let labels: [Int32] = [0, 1, 2, 3]
    return (program, state, images, labels)
}

@Test("AWP perturbs each weight matrix by γ‖w‖ along the zeroth-order loss gradient, and nothing else")
func awpPerturbation() throws {
    let gamma = 0.01
    var (program, state, images, labels) = try awpProgram(gamma: gamma)
    // TRADES's terms are all zeroth order, so the proxy gradient is the loss gradient at w:
    // take it from a step that does not update.
    _ = try program.step(&state, images: images, labels: labels, lr: 0, update: false)
    let adversarial = Array(try program.attack!.input("input/adversarial"))
    var onehot = [Float](repeating: 0, count: 20)
    for (i, y) in labels.enumerated() { onehot[i * 5 + Int(y)] = 1 }
    let v = try program.adversarialWeightPerturbation(state, images: images, adversarial: adversarial, onehot: onehot)

    let perturbed = Set(v.keys)
    #expect(perturbed == ["conv1.weight", "conv2.weight", "fc.weight"])
    // The loss gradient at the unperturbed weights, from the (separately compiled) loss
    // graph: its inputs still hold this batch, its weights were w + γv.
    for p in program.training.parameters { try program.loss.setInput(p.name, state.parameters[p.name]!) }
    try program.loss.run()
    for (i, p) in program.training.parameters.enumerated() where perturbed.contains(p.name) {
        let w = state.parameters[p.name]!
        let norm = { (x: [Float]) in x.reduce(0) { $0 + Double($1) * Double($1) }.squareRoot() }
        #expect(abs(norm(v[p.name]!) - gamma * norm(w)) <= 1e-5 * gamma * norm(w), "\(p.name): ‖γv‖ ≠ γ‖w‖")
        let g = Array(program.loss.output(program.training.layout.gradients.lowerBound + i))
        let cosine = zip(v[p.name]!, g).reduce(0) { $0 + Double($1.0) * Double($1.1) } / (norm(v[p.name]!) * norm(g))
        #expect(cosine > 0.99999, "\(p.name): perturbation not along the loss gradient (cos \(cosine))")
    }
}

@Test("an AWP step that does not update leaves the weights where they were")
func awpRestores() throws {
    var (program, state, images, labels) = try awpProgram(gamma: 0.005)
    let before = state.parameters
    _ = try program.step(&state, images: images, labels: labels, lr: 0.1, update: false)
    for (name, w) in before {
        let after = state.parameters[name]!
        let drift = zip(w, after).map { abs($0 - $1) }.max() ?? 0
        #expect(drift <= 1e-6, "\(name) moved by \(drift) after perturb + restore")
    }
}
