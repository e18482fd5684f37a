/// What a loss term looks at: logits of the clean or adversarial input at a Taylor order
/// in the weight noise `u` — 0: `f_w(s)`, 1: `J_s(w)·u`, 2: `uᵀ H_s(w) u` (docs/method.md §1).
public struct View: Hashable, Sendable, CustomStringConvertible {
    public enum Input: String, CaseIterable, Sendable { case clean, adversarial }
    public enum Order: Int, CaseIterable, Sendable { case zeroth = 0, first = 1, second = 2 }

    public var input: Input
    public var order: Order

    public init(_ input: Input, order: Order = .zeroth) {
        self.input = input
        self.order = order
    }

    /// `clean`, `J(adversarial)`, `H(clean)`: the spelling recipes use.
    public var description: String {
        switch order {
        case .zeroth: return input.rawValue
        case .first: return "J(\(input.rawValue))"
        case .second: return "H(\(input.rawValue))"
        }
    }

    static let allSpellings: [String] = Order.allCases.flatMap { order in
        Input.allCases.map { View($0, order: order).description }
    }

    init?(spelling: String) {
        let text = spelling.filter { $0 != " " }
        guard let view = Order.allCases.lazy.flatMap({ order in Input.allCases.map { View($0, order: order) } })
            .first(where: { $0.description == text }) else { return nil }
        self = view
    }
}

/// The authors' soft-label approximation of the Taylor terms (docs/method.md §2), with its constants.
public struct SoftLabelOptions: Equatable, Sendable {
    /// `cc` of `reg_gap`: the off-diagonal mass of the soft-label matrix. nil = the code's
    /// choice by class count: 0.8 up to 10 classes, 0.98 above.
    public var mixing: Double?
    /// T2 only: the code builds both targets from `t2_adv − t2_nat` (the `nat − adv` it
    /// computes is never used). true reproduces that; false uses `nat − adv` for the clean target.
    public var repeatAdvMinusNat: Bool

    public init(mixing: Double? = nil, repeatAdvMinusNat: Bool = true) {
        self.mixing = mixing
        self.repeatAdvMinusNat = repeatAdvMinusNat
    }

    public func mixing(classes: Int) -> Double { mixing ?? (classes <= 10 ? 0.8 : 0.98) }
}

/// The comparison a term makes. Views are in the order written: `kl(p, q)` is KL(softmax p ‖ softmax q).
public enum Criterion: Equatable, Sendable {
    /// Cross-entropy of the view's logits with the labels.
    case crossEntropy(View)
    /// Σ_batch KL(softmax p ‖ softmax q) / B, gradients through both (as TRADES).
    case kl(View, View)
    /// ½(KL(p‖q) + KL(q‖p)).
    case symmetricKL(View, View)
    /// Σ_classes (a − b)² averaged over the batch; with one view, b = 0.
    case mse(View, View?)
    /// The CW margin `-clamp(z_y - max_{j≠y} z_j + κ, min=0)` on one view.
    case cw(View, kappa: Double)
    /// The authors' first-order surrogate T1 (soft labels from |Σ_j ∂CE/∂W_cj|).
    case softLabelT1(SoftLabelOptions)
    /// The authors' second-order surrogate T2 (soft labels from (Σ_j ∂CE/∂W_cj)²).
    case softLabelT2(SoftLabelOptions)

    public enum Kind: String, CaseIterable, Sendable {
        case ce, kl, symmetricKL = "symmetric-kl", mse, cw
        case softLabelT1 = "soft-label-t1", softLabelT2 = "soft-label-t2"

        /// How many views `on` must list.
        var arity: ClosedRange<Int> {
            switch self {
            case .ce, .cw: return 1...1
            case .kl, .symmetricKL: return 2...2
            case .mse: return 1...2
            case .softLabelT1, .softLabelT2: return 0...0
            }
        }

        /// Term keys besides name/kind/on/weight that this kind accepts.
        var optionKeys: [String] {
            switch self {
            case .cw: return ["kappa"]
            case .softLabelT1: return ["mixing"]
            case .softLabelT2: return ["mixing", "repeat_adv_minus_nat"]
            default: return []
            }
        }
    }

    public var kind: Kind {
        switch self {
        case .crossEntropy: return .ce
        case .kl: return .kl
        case .symmetricKL: return .symmetricKL
        case .mse: return .mse
        case .cw: return .cw
        case .softLabelT1: return .softLabelT1
        case .softLabelT2: return .softLabelT2
        }
    }

    public var views: [View] {
        switch self {
        case .crossEntropy(let view), .cw(let view, _): return [view]
        case .kl(let p, let q), .symmetricKL(let p, let q): return [p, q]
        case .mse(let a, let b): return [a] + (b.map { [$0] } ?? [])
        case .softLabelT1, .softLabelT2: return []
        }
    }
}

public struct LossTerm: Equatable, Sendable {
    /// Unique within the loss; logged per term.
    public var name: String
    public var criterion: Criterion
    public var weight: WeightExpression

    public init(name: String, criterion: Criterion, weight: WeightExpression = .number(1)) {
        self.name = name
        self.criterion = criterion
        self.weight = weight
    }

    /// `kl(J(clean), J(adversarial))`: the name a term gets when the recipe gives none.
    public static func derivedName(for criterion: Criterion) -> String {
        let views = criterion.views
        return views.isEmpty ? criterion.kind.rawValue
            : "\(criterion.kind.rawValue)(\(views.map(\.description).joined(separator: ", ")))"
    }
}

/// The training loss: Σ weight_i · term_i, weights evaluated against `params`.
public struct LossSpec: Equatable, Sendable {
    public var params: [String: Double]
    public var terms: [LossTerm]

    public init(params: [String: Double], terms: [LossTerm]) {
        self.params = params
        self.terms = terms
    }

    /// The paper's TRADES + 1st + 2nd: CE + β·KL(clean‖adv) + η·KL on J·u + η/2·KL on uᵀHu,
    /// with 1/λ = β = 6 and η = 0.2 (its best "1st+2nd" setting, docs/method.md §1).
    public static let paper = LossSpec(params: ["beta": 6, "eta": 0.2], terms: [
        LossTerm(name: "natural", criterion: .crossEntropy(View(.clean))),
        LossTerm(name: "robust", criterion: .kl(View(.clean), View(.adversarial)), weight: .parameter("beta")),
        LossTerm(name: "taylor1", criterion: .kl(View(.clean, order: .first), View(.adversarial, order: .first)),
                 weight: .parameter("eta")),
        LossTerm(name: "taylor2", criterion: .kl(View(.clean, order: .second), View(.adversarial, order: .second)),
                 weight: .binary(.divide, .parameter("eta"), .number(2))),
    ])

    /// Each term's weight with the current `params`.
    public func weight(of term: LossTerm) -> Double { term.weight.evaluate(params) }

    /// The highest Taylor order any term needs (0 = no forward-mode pass over the weights).
    public var maxOrder: View.Order {
        terms.flatMap(\.criterion.views).map(\.order).max { $0.rawValue < $1.rawValue } ?? .zeroth
    }

    public var usesAdversarialInput: Bool {
        terms.contains { term in
            switch term.criterion {
            case .softLabelT1, .softLabelT2: return true
            default: return term.criterion.views.contains { $0.input == .adversarial }
            }
        }
    }
}
