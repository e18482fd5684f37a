import Attacks
import Foundation
import Recipe
import Testing

private func goodRecipe(_ overrides: [String]) throws -> Recipe {
    try RecipeLoader.load(path: corpusPath("good.yaml"), overrides: overrides + ["eval.select.metric=clean"])
}

private func failure(_ overrides: [String]) -> String {
    do { _ = try goodRecipe(overrides); return "" } catch { return "\(error)" }
}

@Test("every AutoAttack name is a shorthand with the reference defaults")
func autoAttackShorthands() throws {
    let recipe = try goodRecipe(["eval.attacks=[apgd-ce, apgd-t, fab-t, square, aa, aa-rand]"])
    let specs = Dictionary(uniqueKeysWithValues: recipe.eval.attacks.map { ($0.name, $0) })
    #expect(specs["apgd-ce"]?.iterations == 100 && specs["apgd-ce"]?.restarts == 1 && specs["apgd-ce"]?.rho == 0.75)
    #expect(specs["apgd-t"]?.targets == nil)
    #expect(specs["fab-t"]?.alphaMax == 0.1 && specs["fab-t"]?.eta == 1.05 && specs["fab-t"]?.beta == 0.9)
    #expect(specs["square"]?.queries == 5000 && specs["square"]?.pInit == 0.8)
    #expect(specs["aa-rand"]?.eot == 20)
    #expect(specs["aa"]?.attacks(classes: 10).map(\.name) == ["apgd-ce", "apgd-t", "fab-t", "square"])
    #expect(specs["aa-rand"]?.attacks(classes: 10).map(\.name) == ["apgd-ce", "apgd-dlr"])
    // Targets default to 9, or classes − 1 when fewer.
    let apgdT = try #require(specs["apgd-t"]?.attacks(classes: 5).first as? APGD)
    #expect(apgdT.targets == 4)
}

@Test("attack fields are overridable and checked against the kind")
func attackFieldOverrides() throws {
    let recipe = try goodRecipe(["eval.attacks=[{kind: apgd-t, iterations: 50, targets: 3, name: t3}, {kind: square, queries: 100}]"])
    #expect(recipe.eval.attacks[0].iterations == 50 && recipe.eval.attacks[0].targets == 3 && recipe.eval.attacks[0].name == "t3")
    #expect(recipe.eval.attacks[1].queries == 100)
    #expect(failure(["eval.attacks=[{kind: apgd-ce, kappa: 3}]"]).contains("'kappa' does not apply to apgd-ce attacks"))
    #expect(failure(["eval.attacks=[apgd]"]).contains("did you mean"))
}

@Test("more targets than classes − 1, or DLR on too few classes, is a problem naming the attack")
func targetsBeyondClasses() throws {
    let recipe = try goodRecipe(["eval.attacks=[{kind: apgd-t, targets: 12}, apgd-dlr]"])
    let tooMany = recipe.eval.attacks[0].problems(classes: 10)
    #expect(tooMany.map(\.field) == ["targets"] && tooMany[0].message.contains("12 target classes"))
    #expect(recipe.eval.attacks[1].problems(classes: 10).isEmpty)
    #expect(recipe.eval.attacks[1].problems(classes: 2).map(\.field) == ["kind"])
}
