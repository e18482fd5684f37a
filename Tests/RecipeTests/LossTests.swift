import Objectives
import Recipe
import Testing

private func loss(_ yaml: String, overrides: [String] = []) throws -> LossSpec {
    try RecipeLoader.load(text: "data: {path: d}\nmodel: {name: mlp}\n" + yaml, file: "inline.yaml", overrides: overrides).loss
}

@Test func madryIsCrossEntropyOnTheAdversarialInput() throws {
    let spec = try loss("loss:\n  terms: [{kind: ce, on: adversarial}]\n")
    #expect(spec.evaluatedTerms == [LossTerm(name: "ce(adversarial)", criterion: .crossEntropy, views: [View(.adversarial)], weight: 1)])
    #expect(spec.params.isEmpty)
    #expect(spec.maxOrder == 0)
}

@Test func viewsParseToInputAndOrder() throws {
    let spec = try loss("""
        loss:
          terms:
            - kind: kl
              on:
                - H(adversarial)
                - J( clean )
            - {kind: mse, on: "J(adversarial)"}
            - {kind: symmetric-kl, on: [adversarial, clean]}
            - {kind: cw, on: adversarial, kappa: 5}
        """)
    #expect(spec.terms.map(\.criterion) == [.kl, .squaredError, .symmetricKL, .carliniWagner(kappa: 5)])
    #expect(spec.terms.map(\.views) == [
        [View(.adversarial, order: 2), View(.clean, order: 1)],
        [View(.adversarial, order: 1)],
        [View(.adversarial), View(.clean)],
        [View(.adversarial)],
    ])
    #expect(spec.terms.map(\.name) == ["kl(H(adversarial), J(clean))", "mse(J(adversarial))",
                                       "symmetric-kl(adversarial, clean)", "cw(adversarial)"])
}

@Test func derivedNamesAreMadeUnique() throws {
    let spec = try loss("loss:\n  terms: [{kind: ce, on: clean}, {kind: ce, on: clean}, {kind: ce, on: clean}]\n")
    #expect(spec.terms.map(\.name) == ["ce(clean)", "ce(clean)#2", "ce(clean)#3"])
}

@Test func explicitDuplicateNamesAreAnError() {
    #expect(throws: RecipeError("two loss terms are named 'a'", at: SourceLocation(file: "inline.yaml", line: 7, column: 14))) {
        try loss("loss:\n  terms:\n    - {name: a, kind: ce, on: clean}\n    - {name: b, kind: ce, on: clean}\n    - {name: a, kind: ce, on: clean}\n")
    }
}

@Test func weightsFollowParameterOverrides() throws {
    let text = """
        loss:
          params: {beta: 6, eta: 0.2}
          terms:
            - {kind: ce, on: clean}
            - {kind: kl, on: [clean, adversarial], weight: beta}
            - {kind: kl, on: ["J(clean)", "J(adversarial)"], weight: eta}
            - {kind: kl, on: ["H(clean)", "H(adversarial)"], weight: eta / 2}
        """
    let base = try loss(text)
    #expect(base.terms.map { base.weight(of: $0) } == [1, 6, 0.2, 0.1])
    let changed = try loss(text, overrides: ["loss.params.eta=0.3"])
    #expect(changed.terms.map { changed.weight(of: $0) } == [1, 6, 0.3, 0.15])
    #expect(changed.terms[3].weight == .binary(.divide, .parameter("eta"), .number(2)))
}

@Test func withoutTermsThePapersLossIsUsedAndParamsOverlayIt() throws {
    let spec = try loss("", overrides: ["loss.params.eta=0.3"])
    #expect(spec.terms == LossSpec.paper.terms)
    #expect(spec.params == ["beta": 6, "eta": 0.3])
}

@Test func softLabelTermsExposeTheirConstants() throws {
    let spec = try loss("""
        loss:
          params: {alpha: 0.2}
          terms:
            - {kind: soft-label-t1, weight: alpha}
            - {kind: soft-label-t2, weight: 0.4 * alpha, mixing: 0.9, repeat_adv_minus_nat: false}
        """)
    #expect(spec.terms.map(\.criterion) == [.softLabelT1(mixing: nil), .softLabelT2(mixing: 0.9, repeatAdvMinusNat: false)])
    #expect(spec.terms.map(\.name) == ["soft-label-t1", "soft-label-t2"])
    #expect(spec.terms.allSatisfy { $0.views == softLabelViews }, "the engine's soft-label terms compare clean and adversarial")
    #expect(abs(spec.weight(of: spec.terms[1]) - 0.08) < 1e-12)
}

@Test func softLabelTermsTakeNoViews() {
    #expect(throws: RecipeError("a 'soft-label-t1' term takes no views: it uses the clean and adversarial logits and the penultimate features",
                                at: SourceLocation(file: "inline.yaml", line: 5, column: 33))) {
        try loss("loss:\n  terms:\n    - {kind: soft-label-t1, on: [clean]}\n")
    }
}

@Test func expressionsRenderWithTheParenthesesTheyNeed() throws {
    let cases = ["1 - alpha", "(1 - alpha) * beta / 2", "alpha - (beta - 1)", "-(alpha + beta)", "alpha / (beta * 2)", "0.5 * -alpha"]
    for text in cases {
        let spec = try loss("loss:\n  params: {alpha: 1, beta: 2}\n  terms:\n    - {kind: ce, on: adversarial, weight: \(text)}\n")
        #expect(spec.terms[0].weight.description == text)
    }
    let parsed = try loss("loss:\n  params: {alpha: 0.2, beta: 6}\n  terms:\n    - {kind: ce, on: clean, weight: ((1 - alpha)) * beta}\n")
    #expect(parsed.terms[0].weight.description == "(1 - alpha) * beta")
    #expect(abs(parsed.weight(of: parsed.terms[0]) - 4.8) < 1e-12)
    #expect(parsed.terms[0].weight.parameterNames == ["alpha", "beta"])
}

@Test func aWeightWithNoParametersDefinedSaysSo() {
    #expect(throws: RecipeError("unknown parameter 'eta' in the weight of 'loss.terms.0.weight' (loss.params defines no parameters)",
                                at: SourceLocation(file: "inline.yaml", line: 5, column: 41))) {
        try loss("loss:\n  terms:\n    - {kind: ce, on: clean, weight: 2 * eta}\n")
    }
}
