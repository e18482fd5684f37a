import Objectives

// The loss types are the engine's (Sources/Objectives/LossTerm.swift: View, Criterion,
// LossTerm); what the recipe adds is a weight that is an expression of named parameters.

/// One term as a recipe writes it: the engine's term at unit weight, scaled by `weight`,
/// an expression of the loss's `params` (evaluated late, so `--set loss.params.eta=…` applies).
public struct WeightedTerm: Equatable, Sendable {
    /// `term.weight` is 1: the number the engine uses is `weight` evaluated (`LossSpec.evaluatedTerms`);
    /// `term.exampleWeight` may still name parameters (substituted there too).
    public var term: LossTerm
    public var weight: WeightExpression

    public init(_ term: LossTerm, weight: WeightExpression = .number(1)) {
        self.term = term
        self.weight = weight
    }

    /// Unique within the loss; logged per term.
    public var name: String { term.name }
    public var criterion: Criterion { term.criterion }
    public var views: [View] { term.views }

    /// `kl(J(clean), J(adversarial))`: the name a term gets when the recipe gives none.
    public static func derivedName(criterion: Criterion, views: [View]) -> String {
        let kind = criterion.kind.rawValue
        return views.isEmpty || criterion.needsClassifierInputs ? kind
            : "\(kind)(\(views.map(\.description).joined(separator: ", ")))"
    }
}

/// The training loss: Σ weight_i · term_i, weights evaluated against `params`.
public struct LossSpec: Equatable, Sendable {
    public var params: [String: Double]
    public var terms: [WeightedTerm]

    public init(params: [String: Double], terms: [WeightedTerm]) {
        self.params = params
        self.terms = terms
    }

    /// The paper's TRADES + 1st + 2nd: CE + β·KL(clean‖adv) + η·KL on J·u + η/2·KL on uᵀHu,
    /// with 1/λ = β = 6 and η = 0.2 (its best "1st+2nd" setting, docs/method.md §1).
    public static let paper = LossSpec(params: ["beta": 6, "eta": 0.2], terms: [
        WeightedTerm(LossTerm(name: "natural", criterion: .crossEntropy, views: [View(.clean)], weight: 1)),
        WeightedTerm(LossTerm(name: "robust", criterion: .kl, views: [View(.clean), View(.adversarial)], weight: 1),
                     weight: .parameter("beta")),
        WeightedTerm(LossTerm(name: "taylor1", criterion: .kl, views: [View(.clean, order: 1), View(.adversarial, order: 1)],
                              weight: 1), weight: .parameter("eta")),
        WeightedTerm(LossTerm(name: "taylor2", criterion: .kl, views: [View(.clean, order: 2), View(.adversarial, order: 2)],
                              weight: 1), weight: .binary(.divide, .parameter("eta"), .number(2))),
    ])

    /// A term's weight with the current `params`.
    public func weight(of term: WeightedTerm) -> Double { term.term.weight * term.weight.evaluate(params) }

    /// The engine's terms, each weight (and per-example weight) evaluated with the current `params`.
    public var evaluatedTerms: [LossTerm] {
        terms.map { written in
            var term = written.term
            term.weight = weight(of: written)
            term.exampleWeight = term.exampleWeight?.substituting(params)
            return term
        }
    }

    /// Every view a term compares or its per-example weight reads.
    public var views: Set<View> { Set(terms.flatMap(\.term.allViews)) }

    /// The highest Taylor order any term needs (0 = no forward-mode pass over the weights).
    public var maxOrder: Int { views.map(\.order).max() ?? 0 }

    /// Whether a term reads the randomized model f_{w+u} (a `noisy(·)` view).
    public var usesNoisyModel: Bool { views.contains(where: \.noisy) }

    /// Whether any term looks at the adversarial input (the soft-label terms always do).
    public var usesAdversarialInput: Bool { views.contains { $0.input == .adversarial } }
}
