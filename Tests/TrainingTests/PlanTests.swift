import Foundation
import Planner
import Recipe
import Testing
import Training

/// Every complete recipe in recipes/ compiles into its step graphs and plans, with the data
/// geometry of its dataset (or the dataset's standard geometry when it is not prepared here).
@Test("every recipe under recipes/ compiles and plans", arguments: try recipeFiles())
func everyRecipePlans(_ file: String) throws {
    let recipe = try RecipeLoader.load(path: repositoryRoot + "/recipes/" + file, overrides: ["schedule.batch=2"])
    let data = try DataGeometry.of(recipe, allowStandard: true)
    let model = try makeModel(recipe, channels: data.channels, height: data.height, width: data.width, classes: data.classes)
    let graphs = try StepGraphs(recipe: recipe, model: model, inputShape: [2, data.channels, data.height, data.width],
                                classes: data.classes)
    let loss = plan(graphs.training.graph)
    #expect(loss.flops > 0 && loss.arenaBytes > 0)
    #expect(graphs.training.terms.count == recipe.loss.terms.count)
    #expect((graphs.attack != nil) == recipe.loss.usesAdversarialInput)
    #expect((graphs.proxy != nil) == recipe.awp.enabled)
    if recipe.model.name == "preact-resnet18" && data.classes == 10 {
        #expect(graphs.training.parameters.reduce(0) { $0 + $1.count } == 11_172_170)
    }
}

func recipeFiles() throws -> [String] {
    try FileManager.default.contentsOfDirectory(atPath: repositoryRoot + "/recipes")
        .filter { $0.hasSuffix(".yaml") }
        .sorted()
}
