import Graph

/// Which input a view's logits come from.
public enum InputKind: String, Hashable, CaseIterable, Sendable { case clean, adversarial }

/// Logits at a Taylor order in the weight noise u: 0 = f_w(s), 1 = J_s(w)·u,
/// 2 = uᵀH_s(w)u (the second directional derivative, as the paper writes it); or, when
/// `noisy`, the randomized model itself: f_{w+u}(s) with the step's fresh draw of u.
public struct View: Hashable, Sendable, CustomStringConvertible {
    public var input: InputKind
    public var order: Int
    /// f_{w+u}(s) instead of a Taylor term (order is then 0).
    public var noisy: Bool

    public init(_ input: InputKind, order: Int = 0) {
        self.input = input
        self.order = order
        self.noisy = false
    }

    /// The randomized model's logits on `input`: f_{w+u}(s).
    public static func noisy(_ input: InputKind) -> View {
        var view = View(input)
        view.noisy = true
        return view
    }

    public var description: String {
        if noisy { return "noisy(\(input.rawValue))" }
        switch order {
        case 0: return input.rawValue
        case 1: return "J(\(input.rawValue))"
        default: return "H(\(input.rawValue))"
        }
    }

    /// Every view a loss can name: the Taylor orders 0–2 and the noisy model, on each input.
    public static let all: [View] = (0...2).flatMap { order in InputKind.allCases.map { View($0, order: order) } }
        + InputKind.allCases.map { View.noisy($0) }
}

/// What a term compares. Every criterion is a composition of primitives (Losses.swift).
public enum Criterion: Hashable, Sendable {
    /// Cross-entropy of one view against the labels.
    case crossEntropy
    /// KL(softmax a ‖ softmax b) of two views.
    case kl
    case symmetricKL
    /// Squared error between two views, or of one view against zero.
    case squaredError
    /// CW margin loss of one view against the labels.
    case carliniWagner(kappa: Double)
    /// MART's boosted cross-entropy of one view: CE − log(1 − max_{k≠y} p_k).
    case boostedCrossEntropy
    /// The authors' first-order surrogate T1 (SoftLabel.swift): KL towards soft labels built
    /// from |Σ_j ∂CE/∂W_cj| of the classifier weight. Views: clean and adversarial, order 0.
    /// `mixing` is `cc` of the code's `reg_gap`; nil = `authorsMixing(classes:)`.
    case softLabelT1(mixing: Double?)
    /// The authors' second-order surrogate T2, from (Σ_j ∂CE/∂W_cj)². `repeatAdvMinusNat`
    /// builds both targets from `t2_adv − t2_nat`, as the code does.
    case softLabelT2(mixing: Double?, repeatAdvMinusNat: Bool)

    /// The criterion without its options; its raw value is the recipe's `kind:`.
    public var kind: CriterionKind {
        switch self {
        case .crossEntropy: .ce
        case .kl: .kl
        case .symmetricKL: .symmetricKL
        case .squaredError: .mse
        case .carliniWagner: .cw
        case .boostedCrossEntropy: .boostedCE
        case .softLabelT1: .softLabelT1
        case .softLabelT2: .softLabelT2
        }
    }

    /// The recipe's spelling of the criterion, with its options.
    public var name: String {
        switch self {
        case .crossEntropy, .kl, .symmetricKL, .squaredError, .boostedCrossEntropy: kind.rawValue
        case .carliniWagner(let kappa): "cw (κ = \(kappa))"
        case .softLabelT1(let mixing): "soft-label-t1 (mixing \(mixing.map { "\($0)" } ?? "by class count"))"
        case .softLabelT2(let mixing, let repeated):
            "soft-label-t2 (mixing \(mixing.map { "\($0)" } ?? "by class count")\(repeated ? ", adv − nat twice" : ""))"
        }
    }

    /// Whether the term reads the penultimate features of each pass (besides the logits).
    public var needsClassifierInputs: Bool {
        switch self {
        case .softLabelT1, .softLabelT2: true
        default: false
        }
    }
}

/// A criterion's kind, spelled as recipes write it (`kind: symmetric-kl`).
public enum CriterionKind: String, CaseIterable, Sendable {
    case ce, kl, symmetricKL = "symmetric-kl", mse, cw, boostedCE = "boosted-ce"
    case softLabelT1 = "soft-label-t1", softLabelT2 = "soft-label-t2"
}

/// The passes the authors' soft-label terms compare: clean and adversarial logits (order 0).
public let softLabelViews = [View(.clean), View(.adversarial)]

/// One weighted term of a training loss: weight · Σ_i w_i·criterion_i / N, where the
/// per-example weight w_i is 1 unless `exampleWeight` reads statistics of the views.
public struct LossTerm: Hashable, Sendable {
    public var name: String
    public var criterion: Criterion
    public var views: [View]
    public var weight: Double
    /// Per-example weight (e.g. MART's `1 - p_y(clean)`); its parameters already substituted.
    public var exampleWeight: WeightExpression?

    public init(name: String, criterion: Criterion, views: [View], weight: Double, exampleWeight: WeightExpression? = nil) {
        precondition(!criterion.needsClassifierInputs || Set(views) == Set(softLabelViews),
                     "soft-label terms compare the clean and the adversarial pass: views [clean, adversarial]")
        precondition(!criterion.needsClassifierInputs || exampleWeight == nil,
                     "soft-label terms are built per batch: they take no per-example weight")
        self.name = name
        self.criterion = criterion
        self.views = views
        self.weight = weight
        self.exampleWeight = exampleWeight
    }

    /// The views the criterion compares and those its per-example weight reads.
    public var allViews: [View] { views + (exampleWeight?.views ?? []) }

    /// The authors' soft-label T1 (views: the clean and adversarial passes at order 0).
    public static func softLabelT1(name: String = "t1", mixing: Double? = nil, weight: Double) -> LossTerm {
        LossTerm(name: name, criterion: .softLabelT1(mixing: mixing), views: softLabelViews, weight: weight)
    }

    /// The authors' soft-label T2 (views: the clean and adversarial passes at order 0).
    public static func softLabelT2(name: String = "t2", mixing: Double? = nil, repeatAdvMinusNat: Bool = true,
                                   weight: Double) -> LossTerm {
        LossTerm(name: name, criterion: .softLabelT2(mixing: mixing, repeatAdvMinusNat: repeatAdvMinusNat),
                 views: softLabelViews, weight: weight)
    }

    /// Builds the term's value from the logits of its views and, for the soft-label terms,
    /// the penultimate features of each pass.
    func value(_ logits: [View: Tensor], features: [InputKind: Tensor], onehot: Tensor) -> Tensor {
        func pass(_ kind: InputKind) -> SoftLabelPass {
            SoftLabelPass(logits: logits[View(kind)]!, features: features[kind]!)
        }
        switch criterion {
        case .softLabelT1(let mixing):
            return softLabelFirstOrder(clean: pass(.clean), adversarial: pass(.adversarial), onehot: onehot, mixing: mixing)
        case .softLabelT2(let mixing, let repeatAdvMinusNat):
            return softLabelSecondOrder(clean: pass(.clean), adversarial: pass(.adversarial), onehot: onehot,
                                        mixing: mixing, repeatAdvMinusNat: repeatAdvMinusNat)
        default:
            let perExample = perExampleValue(views.map { logits[$0]! }, onehot: onehot)
            guard let exampleWeight else { return batchMean(perExample) }
            return batchMean(exampleWeight.perExample(logits, onehot: onehot) * perExample)
        }
    }

    /// The criterion per example, [N, 1], of the views' logits `v`.
    private func perExampleValue(_ v: [Tensor], onehot: Tensor) -> Tensor {
        switch criterion {
        case .crossEntropy: return crossEntropyPerExample(v[0], onehot)
        case .kl: return klDivergencePerExample(v[0], v[1])
        case .symmetricKL: return symmetricKLPerExample(v[0], v[1])
        case .squaredError: return squaredErrorPerExample(v[0], v.count == 2 ? v[1] : v[0].splat(0))
        case .carliniWagner(let kappa): return carliniWagnerLossPerExample(v[0], onehot, kappa: kappa)
        case .boostedCrossEntropy: return boostedCrossEntropyPerExample(v[0], onehot)
        case .softLabelT1, .softLabelT2: preconditionFailure("soft-label terms are built per batch")
        }
    }
}

/// The paper's losses, for benchmarks and tests (recipes can write any of these).
public enum StandardLoss {
    public static func madry() -> [LossTerm] {
        [LossTerm(name: "adversarial_ce", criterion: .crossEntropy, views: [View(.adversarial)], weight: 1)]
    }

    /// CE(f(s), y) + β·KL(f(s) ‖ f(s')), plus η·(first) and η/2·(second) Taylor terms.
    public static func trades(beta: Double = 6, firstOrder eta1: Double? = nil, secondOrder eta2: Double? = nil) -> [LossTerm] {
        var terms = [
            LossTerm(name: "natural", criterion: .crossEntropy, views: [View(.clean)], weight: 1),
            LossTerm(name: "robust", criterion: .kl, views: [View(.clean), View(.adversarial)], weight: beta),
        ]
        if let eta1 {
            terms.append(LossTerm(name: "taylor1", criterion: .kl,
                                  views: [View(.clean, order: 1), View(.adversarial, order: 1)], weight: eta1))
        }
        if let eta2 {
            terms.append(LossTerm(name: "taylor2", criterion: .kl,
                                  views: [View(.clean, order: 2), View(.adversarial, order: 2)], weight: eta2 / 2))
        }
        return terms
    }
}
