import Objectives
import Recipe
import Testing

// The loss language's per-example weights (`per_example: "1 - p_y(clean)"`), MART's
// boosted cross-entropy and the randomized model's views (`noisy(clean)`), as recipes
// write them: parsing, rendering back, and the errors of a mistyped one.

private let header = "data: {path: d}\nmodel: {name: mlp}\n"

private func recipe(_ yaml: String, overrides: [String] = []) throws -> Recipe {
    try RecipeLoader.load(text: header + yaml, file: "inline.yaml", overrides: overrides)
}

/// `file:line:col: message` of the load error, or nil when it loads.
private func loadFailure(_ yaml: String) -> String? {
    do {
        _ = try recipe(yaml)
        return nil
    } catch let error as RecipeError {
        return "\(error)"
    } catch {
        return "unexpected \(error)"
    }
}

private let mart = """
    loss:
      params: {lambda: 6}
      terms:
        - {name: adversarial, kind: boosted-ce, on: adversarial}
        - {name: robust, kind: kl, on: [clean, adversarial], weight: lambda, per_example: "1 - lambda / lambda * p_y(clean)"}
    """

@Test("MART is two terms: boosted CE on s', and KL weighted per example by 1 − p_y(clean)")
func martParses() throws {
    let loss = try recipe(mart).loss
    #expect(loss.terms.map(\.criterion) == [.boostedCrossEntropy, .kl])
    let robust = loss.terms[1]
    #expect(robust.term.exampleWeight?.views == [View(.clean)])
    #expect(robust.term.exampleWeight?.parameterNames == ["lambda", "lambda"])
    // Parameters in a per-example weight are substituted late, like the scalar weights'.
    let evaluated = try recipe(mart, overrides: ["loss.params.lambda=3"]).loss.evaluatedTerms[1]
    #expect(evaluated.weight == 3)
    #expect(evaluated.exampleWeight == .binary(.subtract, .number(1),
                                               .binary(.multiply, .binary(.divide, .number(3), .number(3)),
                                                       .statistic(.trueClassProbability, View(.clean)))))
    #expect(Set(loss.views) == [View(.clean), View(.adversarial)])
}

@Test("a per-example weight renders back to the same recipe")
func perExampleWeightRoundTrips() throws {
    let original = try recipe(mart)
    let rendered = renderYAML(original)
    #expect(rendered.contains("per_example: \"1 - lambda / lambda * p_y(clean)\""))
    let reread = try RecipeLoader.load(text: rendered, file: "rendered.yaml")
    #expect(reread.loss == original.loss)
}

@Test("noisy(clean) and noisy(adversarial) are views of the randomized model f_{w+u}")
func noisyViewsParse() throws {
    let loss = try recipe("""
        noise: {enabled: true, sigma: 0.01}
        loss:
          terms:
            - {kind: ce, on: "noisy(adversarial)"}
            - {kind: kl, on: [clean, noisy( clean )], per_example: "margin(noisy(clean))"}
        """).loss
    #expect(loss.terms[0].views == [.noisy(.adversarial)])
    #expect(loss.terms[1].views == [View(.clean), .noisy(.clean)])
    #expect(loss.terms[0].name == "ce(noisy(adversarial))")
    #expect(loss.maxOrder == 0 && loss.usesNoisyModel && loss.usesAdversarialInput)
    #expect(loss.terms[1].term.exampleWeight == .statistic(.margin, .noisy(.clean)))
}

@Test("bad per-example weights fail at their column")
func badPerExampleWeights() {
    func term(_ text: String) -> String { "loss:\n  terms:\n    - {kind: kl, on: [clean, adversarial], \(text)}\n" }
    // Line 5 is the term's line (two header lines); positions point into the quoted text.
    #expect(loadFailure(term("weight: \"p_y(clean)\"")) ==
            "inline.yaml:5:53: error: 'p_y(…)' has a value per example: write it in the term's 'per_example', not in 'loss.terms.0.weight'")
    #expect(loadFailure(term("per_example: \"1 - p_true(clean)\"")) ==
            "inline.yaml:5:62: error: unknown statistic 'p_true(…)' in 'loss.terms.0.per_example' (expected one of: p_y, margin)")
    #expect(loadFailure(term("per_example: \"p_y(cleann)\"")) ==
            "inline.yaml:5:62: error: unknown view 'cleann' in 'loss.terms.0.per_example' — did you mean 'clean'?")
    #expect(loadFailure(term("per_example: \"p_y(clean\"")) ==
            "inline.yaml:5:67: error: expected ')' after the view of 'p_y(' in 'loss.terms.0.per_example'")
    #expect(loadFailure("loss:\n  terms:\n    - {kind: soft-label-t1, per_example: \"p_y(clean)\"}\n") ==
            "inline.yaml:5:42: error: 'per_example' does not apply to a 'soft-label-t1' term: it is built per batch")
}

@Test("a noisy view with the noise off is a check error at the term's views")
func noisyViewNeedsNoise() throws {
    let off = try recipe("noise: {enabled: false}\nloss:\n  terms:\n    - {kind: ce, on: \"noisy(adversarial)\"}\n")
    let diagnostics = check(off, options: CheckOptions(inspectDataset: false)).map { "\($0)" }
    #expect(diagnostics.contains {
        $0.hasPrefix("inline.yaml:6:22: error: term 'ce(noisy(adversarial))' compares noisy(adversarial), the model at w + u, but noise is off")
    }, "\(diagnostics)")
    let weighted = try recipe("noise: {enabled: false}\nloss:\n  terms:\n"
                              + "    - {kind: ce, on: adversarial, per_example: \"p_y(J(clean))\"}\n")
    let found = check(weighted, options: CheckOptions(inspectDataset: false)).map { "\($0)" }
    #expect(found.contains { $0.hasPrefix("inline.yaml:6:48: error: term 'ce(adversarial)' reads J(clean) in its per-example weight, a Taylor term") },
            "\(found)")
}
