import Foundation
import Recipe
import Testing

/// The recipes shipped in `recipes/`: complete ones at the top, pieces under `base/`.
let recipesFolder = repositoryRoot().appendingPathComponent("recipes")
let completeRecipes = yamlFiles(under: recipesFolder).filter { !$0.contains("/base/") }
let basePieces = yamlFiles(under: recipesFolder).filter { $0.contains("/base/") }

@Test func theRecipesFolderHoldsEveryNamedRecipe() {
    let names = Set(completeRecipes.map { URL(fileURLWithPath: $0).lastPathComponent })
    for name in ["madry.yaml", "trades.yaml", "trades-1st.yaml", "trades-1st-2nd.yaml", "alp.yaml", "symkl-1st-only.yaml",
                 "ce-adv-mse-2nd.yaml", "authors-approx.yaml", "awp-trades-1st-2nd.yaml", "l2-awp-1st-2nd.yaml", "quickstart.yaml"] {
        #expect(names.contains(name), "missing recipes/\(name)")
    }
    #expect(!basePieces.isEmpty)
}

@Test("every complete recipe loads and passes check without errors or warnings", arguments: completeRecipes)
func completeRecipeValidates(_ path: String) throws {
    let recipe = try RecipeLoader.load(path: path)
    let diagnostics = check(recipe, options: CheckOptions(inspectDataset: false))
    #expect(diagnostics.map(shortForm) == [])
}

@Test("every base piece loads as a fragment", arguments: basePieces)
func basePieceLoads(_ path: String) throws {
    let recipe = try RecipeLoader.load(path: path, requireSections: false)
    #expect(check(recipe, options: CheckOptions(inspectDataset: false)).filter { $0.severity == .error }.map(shortForm) == [])
}

@Test("config show output reads back as the same recipe", arguments: completeRecipes)
func renderRoundTrips(_ path: String) throws {
    let recipe = try RecipeLoader.load(path: path)
    let text = renderYAML(recipe)
    let reread = try RecipeLoader.load(text: text, file: "rendered.yaml")
    #expect(reread == recipe)
    // Rendering is a fixed point: the second rendering is the first.
    #expect(renderYAML(reread) == text)
}

@Test func roundTripKeepsOverriddenValues() throws {
    let recipe = try RecipeLoader.load(path: recipesFolder.appendingPathComponent("trades-1st-2nd.yaml").path,
                                       overrides: ["loss.params.eta=0.3", "threat.eps=4/255", "eval.attacks=[pgd50, fgsm]",
                                                   "eval.select.metric=pgd50", "schedule.lr={kind: cosine}", "eval.examples=1000"])
    let reread = try RecipeLoader.load(text: renderYAML(recipe), file: "rendered.yaml")
    #expect(reread == recipe)
    #expect(reread.eval.attacks.map(\.name) == ["pgd50", "fgsm"])
    #expect(reread.threat.eps.text == "4/255")
}

@Test func paperRecipesUseThePapersSetting() throws {
    let recipe = try RecipeLoader.load(path: recipesFolder.appendingPathComponent("trades-1st-2nd.yaml").path)
    #expect(recipe.model.name == "preact-resnet18")
    #expect(recipe.data.path == "data/cifar10")
    #expect(recipe.schedule.epochs == 200)
    #expect(recipe.schedule.lr == .piecewise(milestones: [100, 150], factor: 0.1))
    #expect(recipe.threat.eps == .fraction(8, 255))
    #expect(recipe.threat.step == .fraction(2, 255))
    #expect(recipe.threat.steps == 10)
    #expect(recipe.noise.sigma == 0.01)
    #expect(recipe.loss == LossSpec.paper)
    #expect(recipe.loss.terms.map { recipe.loss.weight(of: $0) } == [1, 6, 0.2, 0.1])
}

@Test func quickstartIsSmallCNNOnTheEmbeddedFashionMNIST() throws {
    let recipe = try RecipeLoader.load(path: recipesFolder.appendingPathComponent("quickstart.yaml").path)
    #expect(recipe.model.name == "small-cnn")
    #expect(recipe.data.path == "datasets/fashion-mnist-small")
    #expect(recipe.threat.norm == .linf && recipe.threat.eps.value == 0.1 && recipe.threat.step.value == 0.01)
    #expect(recipe.threat.steps == 10)
    #expect(recipe.schedule.batch == 128 && recipe.schedule.epochs <= 5)
    #expect(recipe.eval.attacks.map(\.name) == ["pgd20", "cw20"])
    #expect(recipe.eval.split == .test)
    #expect(recipe.eval.select == { var s = EvalSpec.Selection(); s.metric = "pgd20"; s.split = .val; return s }())
    #expect(recipe.loss.maxOrder == 2)
}

@Test func l2RecipeEvaluatesInL2() throws {
    let recipe = try RecipeLoader.load(path: recipesFolder.appendingPathComponent("l2-awp-1st-2nd.yaml").path)
    #expect(recipe.threat.norm == .l2)
    #expect(recipe.threat.eps == .fraction(128, 255))
    #expect(recipe.awp.enabled)
    #expect(recipe.eval.attacks.allSatisfy { $0.norm == .l2 && $0.epsilon == 128.0 / 255 && $0.epsilonText == "128/255" })
}
