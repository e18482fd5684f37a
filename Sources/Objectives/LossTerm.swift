import Graph

/// Which input a view's logits come from.
public enum InputKind: String, Hashable, Sendable { case clean, adversarial }

/// Logits at a Taylor order in the weight noise u: 0 = f_w(s), 1 = J_s(w)·u,
/// 2 = uᵀH_s(w)u (the second directional derivative, as the paper writes it).
public struct View: Hashable, Sendable, CustomStringConvertible {
    public var input: InputKind
    public var order: Int

    public init(_ input: InputKind, order: Int = 0) {
        self.input = input
        self.order = order
    }

    public var description: String {
        switch order {
        case 0: input.rawValue
        case 1: "J(\(input.rawValue))"
        default: "H(\(input.rawValue))"
        }
    }
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
}

/// One weighted term of a training loss.
public struct LossTerm: Hashable, Sendable {
    public var name: String
    public var criterion: Criterion
    public var views: [View]
    public var weight: Double

    public init(name: String, criterion: Criterion, views: [View], weight: Double) {
        self.name = name
        self.criterion = criterion
        self.views = views
        self.weight = weight
    }

    /// Builds the term's value from the logits of its views.
    func value(_ logits: [View: Tensor], onehot: Tensor) -> Tensor {
        let v = views.map { logits[$0]! }
        switch criterion {
        case .crossEntropy: return crossEntropy(v[0], onehot)
        case .kl: return klDivergence(v[0], v[1])
        case .symmetricKL: return symmetricKL(v[0], v[1])
        case .squaredError: return v.count == 2 ? squaredError(v[0], v[1]) : squaredError(v[0], v[0].splat(0))
        case .carliniWagner(let kappa): return carliniWagnerLoss(v[0], onehot, kappa: kappa)
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
