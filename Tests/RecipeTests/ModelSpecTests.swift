import Models
import Objectives
import Recipe
import Testing

// The recipe's `model:` and `loss:` sections decode into the zoo's options and the engine's
// loss types: one list of models, options and criteria, not a copy kept by hand.

private func load(_ yaml: String, overrides: [String] = []) throws -> Recipe {
    try RecipeLoader.load(text: "data: {path: d}\n" + yaml, file: "inline.yaml", overrides: overrides)
}

@Test func theMLPTakesTheZoosHiddenWidthAndPassesCheck() throws {
    let recipe = try load("model: {name: mlp, hidden: 64}\n")
    #expect(recipe.model.name == "mlp" && recipe.model.options == ["hidden": 64])
    #expect(check(recipe, options: CheckOptions(inspectDataset: false)).filter { $0.severity == .error }.isEmpty)
    // Unwritten options take the zoo's defaults.
    #expect(try load("model: {name: mlp}\n").model.options == ModelZoo.defaultOptions(name: "mlp"))
    #expect(renderYAML(recipe).contains("  hidden: 64\n"))
}

@Test func anOptionTheZoosModelDoesNotTakeIsRefusedWithItsOptions() {
    #expect(throws: RecipeError("model 'mlp' has no option 'depth'; its options: hidden",
                                at: SourceLocation(file: "inline.yaml", line: 2, column: 20))) {
        try load("model: {name: mlp, depth: 2}\n")
    }
    #expect(throws: RecipeError("model 'wide-resnet' has no option 'hidden'; its options: depth, width",
                                at: SourceLocation(file: "inline.yaml", line: 2, column: 28))) {
        try load("model: {name: wide-resnet, hidden: 2}\n")
    }
    // A near miss of a key the section takes is named.
    #expect(throws: RecipeError("model 'mlp' has no option 'hiden'; its options: hidden — did you mean 'hidden'?",
                                at: SourceLocation(file: "inline.yaml", line: 2, column: 20))) {
        try load("model: {name: mlp, hiden: 2}\n")
    }
}

@Test func everyZooModelIsARecipeModel() throws {
    for name in ModelZoo.names {
        let recipe = try load("model: {name: \(name)}\n")
        #expect(recipe.model.options == ModelZoo.defaultOptions(name: name))
    }
}

@Test func checkReportsTheZoosOptionProblemAtItsKey() throws {
    let recipe = try load("model: {name: wide-resnet, depth: 30}\n")
    let errors = check(recipe, options: CheckOptions(inspectDataset: false)).filter { $0.severity == .error }
    #expect(errors.map(\.message) == [ModelZoo.optionProblem(name: "wide-resnet", options: ["depth": 30])!.description])
    #expect(errors.first?.message.contains("6n + 4") == true)
    #expect(errors.first?.location == SourceLocation(file: "inline.yaml", line: 2, column: 35))
    let narrow = try load("model: {name: mlp, hidden: 0}\n")
    #expect(check(narrow, options: CheckOptions(inspectDataset: false)).map(\.message)
        .contains("model 'mlp': option hidden = 0 is invalid: the hidden width must be at least 1"))
}

@Test func termsDecodeIntoTheEnginesLossTerms() throws {
    let recipe = try load("""
        model: {name: mlp}
        loss:
          params: {beta: 6}
          terms:
            - {kind: ce, on: clean}
            - {kind: kl, on: [clean, "J(adversarial)"], weight: beta / 2}
            - {kind: soft-label-t2, mixing: 0.9}
        """)
    #expect(recipe.loss.terms[0].criterion == Objectives.Criterion.crossEntropy)
    #expect(recipe.loss.terms[1].views == [View(.clean), View(.adversarial, order: 1)])
    #expect(recipe.loss.evaluatedTerms == [
        LossTerm(name: "ce(clean)", criterion: .crossEntropy, views: [View(.clean)], weight: 1),
        LossTerm(name: "kl(clean, J(adversarial))", criterion: .kl, views: [View(.clean), View(.adversarial, order: 1)], weight: 3),
        LossTerm.softLabelT2(name: "soft-label-t2", mixing: 0.9, weight: 1),
    ])
}
