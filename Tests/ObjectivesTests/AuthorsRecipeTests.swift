import Executor
import Foundation
import Graph
import Models
import Objectives
import Recipe
import Testing
import Training

// `recipes/authors-approx.yaml` through the bridge into a training graph.

private let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path

private func authorsRecipe(_ overrides: [String] = []) throws -> Recipe {
    try RecipeLoader.load(path: repositoryRoot + "/recipes/authors-approx.yaml", overrides: overrides)
}

@Test("authors-approx.yaml maps to soft-label terms and compiles into a training graph for its model")
func authorsRecipeBuildsTrainingGraph() throws {
    let recipe = try authorsRecipe()
    let terms = recipe.loss.evaluatedTerms
    #expect(terms.map(\.name) == ["natural", "robust", "t1", "t2"])
    #expect(terms[2].criterion == .softLabelT1(mixing: nil))
    #expect(terms[3].criterion == .softLabelT2(mixing: nil, repeatAdvMinusNat: true))
    #expect(terms[2].weight == 0.2 && terms[3].weight == 0.1)
    let model = try makeModel(recipe, channels: 3, height: 32, width: 32, classes: 10)
    let training = buildTrainingGraph(model: model, inputShape: [2, 3, 32, 32], classes: 10, terms: terms)
    #expect(training.layout.terms.count == 4)
    #expect(training.noiseParameters.isEmpty, "soft-label terms need no Taylor views, so no tangent inputs")
    let inputs = Set(training.graph.inputs.map(\.name))
    #expect(inputs.isSuperset(of: ["input/clean", "input/adversarial", "label", "weight/t1", "weight/t2"]))
}

/// The recipe's loss graph on a small CNN at [4, 3, 8, 8] with a random feed.
private func smallAuthorsLoss() throws -> (terms: [Objectives::LossTerm], training: TrainingGraph, feed: [String: DTensor]) {
    let recipe = try authorsRecipe(["model.name=small-cnn"])
    let terms = recipe.loss.evaluatedTerms
    let shape = [4, 3, 8, 8]
    let model = try makeModel(recipe, channels: 3, height: 8, width: 8, classes: 10)
    let training = buildTrainingGraph(model: model, inputShape: shape, classes: 10, terms: terms)
    var rng = SplitMix64(seed: 2)
    var feed = [String: DTensor]()
    for p in training.parameters { feed[p.name] = DTensor.normal(p.shape, scale: 0.3, &rng) }
    let clean = DTensor.uniform(shape, in: 0...1, &rng)
    feed["input/clean"] = clean
    feed["input/adversarial"] = clean.adding(DTensor.uniform(shape, in: -0.03...0.03, &rng), scaledBy: 1)
    var onehot = DTensor(repeating: 0, shape: [4, 10])
    for n in 0..<4 { onehot.data[n * 10 + 3 * n] = 1 }
    feed["label"] = onehot
    for term in terms { feed["weight/\(term.name)"] = DTensor(repeating: term.weight, shape: []) }
    return (terms, training, feed)
}

@Test("the recipe's loss on a small CNN evaluates to finite terms and gradients")
func authorsRecipeEvaluates() throws {
    let (terms, training, feed) = try smallAuthorsLoss()
    let values = try evaluateReference(training.graph, inputs: feed)
    let termValues = values[training.layout.terms].map { $0.data[0] }
    #expect(termValues.allSatisfy { $0.isFinite && $0 >= 0 }, "\(termValues)")
    let weighted = zip(terms, termValues).reduce(0) { $0 + $1.0.weight * $1.1 }
    #expect(abs(values[training.layout.total].data[0] - weighted) < 1e-9)
    #expect(values[training.layout.gradients].allSatisfy { $0.data.allSatisfy(\.isFinite) })
}

@Test("a mixing left out is the authors' cc: 0.8 up to 10 classes, 0.98 above", arguments: [(2, 0.8), (10, 0.8), (11, 0.98), (100, 0.98)])
func defaultMixingFollowsClassCount(classes: Int, mixing: Double) {
    #expect(authorsMixing(classes: classes) == mixing)
}

@Test("the Float32 executor agrees with the reference on the recipe's soft-label loss")
func authorsRecipeFloat32MatchesReference() throws {
    let (_, training, feed) = try smallAuthorsLoss()
    let floatFeed = feed.mapValues { $0.data.map(Float.init) }
    let fast = try fastCompiler(training.graph).run(floatFeed)
    let reference = try referenceCompiler(training.graph).run(floatFeed)
    func close(_ a: [Float], _ b: [Float]) -> Bool {
        let scale = max(b.map { abs($0) }.max() ?? 0, 1e-6)
        return zip(a, b).allSatisfy { abs($0 - $1) <= 1e-3 * scale }
    }
    for index in training.layout.terms {
        #expect(close(fast[index], reference[index]), "term \(index): \(fast[index]) vs \(reference[index])")
    }
    for index in training.layout.gradients {
        #expect(close(fast[index], reference[index]), "gradient \(index)")
    }
}
