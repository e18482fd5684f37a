import Recipe
import Testing

/// One file of the bad-recipe corpus (optionally with overrides) and the exact error it must give.
struct BadRecipe: Sendable, CustomTestStringConvertible {
    var file: String
    var overrides: [String] = []
    var expected: String
    var testDescription: String { file + (overrides.isEmpty ? "" : " --set " + overrides.joined(separator: " ")) }
}

let badRecipes: [BadRecipe] = [
    BadRecipe(file: "typo-key.yaml", expected: "typo-key.yaml:4:3: unknown key 'bacth' in 'schedule' — did you mean 'batch'?"),
    BadRecipe(file: "typo-section.yaml", expected: "typo-section.yaml:2:1: unknown key 'treat' at the top level — did you mean 'threat'?"),
    BadRecipe(file: "wrong-type.yaml", expected: "wrong-type.yaml:3:10: expected an integer for 'threat.steps', found 'ten'"),
    BadRecipe(file: "wrong-type-bool.yaml", expected: "wrong-type-bool.yaml:3:12: expected true or false for 'noise.enabled', found 'yes please'"),
    BadRecipe(file: "bad-syntax.yaml", expected: "bad-syntax.yaml:4:8: invalid YAML: did not find expected ',' or ']' "
              + "(while parsing a flow sequence at line 3, column 12)"),
    BadRecipe(file: "tab-indent.yaml", expected: "tab-indent.yaml:3:1: invalid YAML: a tab character; YAML indents with spaces only"),
    BadRecipe(file: "duplicate-key.yaml", expected: "duplicate-key.yaml:4:3: duplicate key 'eps' (first written at line 3)"),
    BadRecipe(file: "two-documents.yaml", expected: "two-documents.yaml:2:1: a recipe is one YAML document; found a second one ('---')"),
    BadRecipe(file: "missing-section.yaml", expected: "missing-section.yaml:1:1: missing section 'data': "
              + "a recipe says which dataset it uses (directly or through 'extends')"),
    BadRecipe(file: "empty.yaml", expected: "empty.yaml:1:1: missing section 'data': "
              + "a recipe says which dataset it uses (directly or through 'extends')"),
    BadRecipe(file: "empty-terms.yaml", expected: "empty-terms.yaml:4:10: 'loss.terms' is empty: a loss needs at least one term"),
    BadRecipe(file: "unknown-model.yaml", expected: "unknown-model.yaml:3:9: unknown value 'preact-resnet-18' for 'model.name' — did you mean 'preact-resnet18'?"),
    BadRecipe(file: "misplaced-option.yaml", expected: "misplaced-option.yaml:2:26: model 'small-cnn' has no option 'depth'; it takes no options"),
    BadRecipe(file: "cycle-a.yaml", expected: "cycle-b.yaml:1:10: 'extends' makes a cycle: cycle-a.yaml → cycle-b.yaml → cycle-a.yaml"),
    BadRecipe(file: "malformed-fraction.yaml", expected: "malformed-fraction.yaml:3:8: malformed fraction '8/2x5': expected <number>/<number>, such as 8/255"),
    BadRecipe(file: "zero-denominator.yaml", expected: "zero-denominator.yaml:3:9: malformed fraction '2/0': the denominator is zero"),
    BadRecipe(file: "bad-loss-arity.yaml", expected: "bad-loss-arity.yaml:6:36: a 'kl' term needs two views, 'on' lists 1"),
    BadRecipe(file: "bad-loss-view.yaml", expected: "bad-loss-view.yaml:5:11: unknown view 'adversarail' in 'loss.terms.0.on' — did you mean 'adversarial'?"),
    BadRecipe(file: "bad-loss-kind.yaml", expected: "bad-loss-kind.yaml:4:14: unknown value 'symmetric_kl' for 'loss.terms.0.kind' — did you mean 'symmetric-kl'?"),
    BadRecipe(file: "bad-loss-option.yaml", expected: "bad-loss-option.yaml:4:44: 'kappa' does not apply to a 'kl' term"),
    BadRecipe(file: "bad-weight-name.yaml", expected: "bad-weight-name.yaml:7:62: unknown parameter 'etta' in the weight of 'loss.terms.2.weight' — did you mean 'eta'?"),
    BadRecipe(file: "bad-weight-syntax.yaml", expected: "bad-weight-syntax.yaml:7:24: expected ')' in the weight of 'loss.terms.0.weight'"),
    BadRecipe(file: "unknown-metric.yaml", expected: "unknown-metric.yaml:4:20: unknown selection metric 'pgd-20' for 'eval.select.metric' — did you mean 'pgd20'?"),
    BadRecipe(file: "bad-attack.yaml", expected: "bad-attack.yaml:3:20: unknown attack 'autoattak' for 'eval.attacks.1': "
              + "expected pgd<steps>, cw<steps>, fgsm, apgd-ce, apgd-dlr, apgd-t, fab-t, square, aa, aa-plus, aa-rand or a mapping with 'kind'"),
    // Overrides: located at `--set:<n-th override>:<column in it>` and naming the key.
    BadRecipe(file: "good.yaml", overrides: ["threat.steps=many"],
              expected: "--set:1:14: expected an integer for 'threat.steps', found 'many'"),
    BadRecipe(file: "good.yaml", overrides: ["seed=1", "threat.epss=8/255"],
              expected: "--set:2:8: unknown key 'epss' in 'threat' — did you mean 'eps'?"),
    BadRecipe(file: "good.yaml", overrides: ["threat.eps=8/"],
              expected: "--set:1:12: malformed fraction '8/': expected <number>/<number>, such as 8/255"),
    BadRecipe(file: "good.yaml", overrides: ["threat.eps.value=1", "seed=2"],
              expected: "--set:1:8: expected a number for 'threat.eps', found a mapping"),
    BadRecipe(file: "good.yaml", overrides: ["data.path.x=1"],
              expected: "--set:1:11: cannot set 'data.path.x': 'data.path' is a value ('data/cifar10'), not a section"),
    BadRecipe(file: "good.yaml", overrides: ["eval.attacks=[pgd20, cw]", "eval.attacks.2.steps=5"],
              expected: "--set:2:14: 'eval.attacks' is a list of 2; '2' is not an index into it"),
    BadRecipe(file: "good.yaml", overrides: ["model.name"],
              expected: "--set:1:1: override 'model.name' must look like key.path=value"),
    BadRecipe(file: "good.yaml", overrides: ["loss.params.eta=high"],
              expected: "--set:1:17: expected a number (such as 0.1 or 8/255) for 'loss.params.eta', found 'high'"),
]

@Test("a bad recipe fails with the exact file:line:col and message", arguments: badRecipes)
func badRecipeFailsAtItsPlace(_ bad: BadRecipe) {
    guard let error = loadError(corpusPath(bad.file), overrides: bad.overrides) else { return }
    #expect(shortForm(error) == bad.expected)
    #expect(error.description.hasSuffix(": error: " + error.message))
}

@Test func missingParentNamesTheExtendsSite() {
    guard let error = loadError(corpusPath("missing-parent.yaml")) else { return }
    #expect(error.location.line == 1 && error.location.column == 10)
    #expect(error.message.hasPrefix("cannot read the recipe named by 'extends' at '"))
    #expect(error.message.hasSuffix("no-such-base.yaml'"))
}

@Test func aByteOrderMarkIsIgnored() throws {
    let recipe = try RecipeLoader.load(path: corpusPath("bom.yaml"))
    #expect(recipe.model.name == "lenet")
    #expect(recipe.data.name == "cifar10")
}

@Test func anEmptyFileIsAnEmptyFragment() throws {
    let recipe = try RecipeLoader.load(path: corpusPath("empty.yaml"), requireSections: false)
    #expect(recipe == Recipe(name: "empty"))
}
