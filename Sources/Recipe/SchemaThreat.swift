import Attacks

/// How the attack's perturbation starts (before the first step).
public enum AttackInit: String, CaseIterable, Sendable {
    /// `s + scale·N(0, 1)`: the TRADES/AWP training attack, scale 0.001.
    case normal
    /// Uniform in the ε-ball (scale = radius): Madry's PGD.
    case uniform
}

/// The threat model: the set of inputs an adversary may choose from, and the training attack's budget.
public struct ThreatSpec: Equatable, Sendable {
    public var norm: Norm
    public var eps: WrittenNumber
    /// Step size: a sign step for ℓ∞, a normalized-gradient step for ℓ2.
    public var step: WrittenNumber
    public var steps: Int
    public var randomStart: Bool
    public var initialization: AttackInit
    public var initScale: Double

    /// The paper's ℓ∞ training attack (ε 8/255, 10 steps of 2/255, start s + 0.001·N(0,1)),
    /// or its ℓ2 one (ε 128/255, steps of 15/255).
    public init(norm: Norm = .linf) {
        self.norm = norm
        switch norm {
        case .linf: eps = .fraction(8, 255); step = .fraction(2, 255)
        case .l2: eps = .fraction(128, 255); step = .fraction(15, 255)
        }
        steps = 10
        randomStart = true
        initialization = .normal
        initScale = 0.001
    }

    static let keys = ["norm", "eps", "step", "steps", "random_start", "init", "init_scale"]

    init(from node: YAMLNode) throws {
        let reader = try MappingReader(node, path: "threat", known: ThreatSpec.keys)
        self.init(norm: try reader.choice("norm", default: Norm.linf))
        eps = try reader.number("eps", default: eps)
        step = try reader.number("step", default: step)
        steps = try reader.int("steps", default: steps)
        randomStart = try reader.bool("random_start", default: randomStart)
        initialization = try reader.choice("init", default: initialization)
        initScale = try reader.double("init_scale", default: initialization == .normal ? 0.001 : eps.value)
    }
}

/// The attack run inside training (its budget is `threat`).
public struct TrainingAttackSpec: Equatable, Sendable {
    public enum Objective: String, CaseIterable, Sendable {
        /// KL(softmax f(s) ‖ softmax f(s')): TRADES and the paper.
        case kl
        /// Cross-entropy with the labels: Madry AT.
        case ce
        /// The CW margin loss with confidence `kappa`.
        case cw
    }

    public enum ModelMode: String, CaseIterable, Sendable {
        /// BatchNorm uses running statistics while attacking (the reference code's choice).
        case eval
        case train
    }

    public var objective: Objective = .kl
    public var modelMode: ModelMode = .eval
    public var kappa: Double = 50

    public init() {}

    static let keys = ["objective", "model_mode", "kappa"]

    init(from node: YAMLNode) throws {
        let reader = try MappingReader(node, path: "attack", known: TrainingAttackSpec.keys)
        objective = try reader.choice("objective", default: objective)
        modelMode = try reader.choice("model_mode", default: modelMode)
        kappa = try reader.double("kappa", default: kappa)
    }
}

/// Weight noise `u ~ N(0, σ²I)` of the randomized objective (paper Eq. 4–5).
public struct NoiseSpec: Equatable, Sendable {
    public var enabled: Bool = true
    public var sigma: Double = 0.01
    /// Glob patterns (`*`, `?`) over PyTorch-style parameter names such as `layer1.0.conv1.weight`.
    public var params: [String] = ["*"]
    /// Draws of `u` per minibatch (the paper: one).
    public var samples: Int = 1
    /// The attack is crafted on `w + u` with the same draw (paper Eq. 4).
    public var attackSeesNoise: Bool = true
    /// Noise also at inference: a randomized model, which must be evaluated with EOT.
    public var atEval: Bool = false

    public init() {}

    /// Noise has an effect only when enabled with σ > 0.
    public var isActive: Bool { enabled && sigma > 0 }

    static let keys = ["enabled", "sigma", "params", "samples", "attack_sees_noise", "at_eval"]

    init(from node: YAMLNode) throws {
        let reader = try MappingReader(node, path: "noise", known: NoiseSpec.keys)
        enabled = try reader.bool("enabled", default: enabled)
        sigma = try reader.double("sigma", default: sigma)
        if let patterns = reader.child("params") {
            params = try readListOrScalar(patterns).enumerated().map { index, item in
                try readString(item, path: "noise.params.\(index)")
            }
        }
        samples = try reader.int("samples", default: samples)
        attackSeesNoise = try reader.bool("attack_sees_noise", default: attackSeesNoise)
        atEval = try reader.bool("at_eval", default: atEval)
    }

    /// Whether a parameter takes noise: any pattern matches its whole name.
    public func selects(parameter name: String) -> Bool {
        params.contains { globMatch(pattern: Array($0), name: Array(name)) }
    }
}

/// `*` matches any run of characters (dots included, so `*.weight` reaches every depth), `?` one character.
func globMatch(pattern: [Character], name: [Character]) -> Bool {
    var p = 0, n = 0, starP = -1, starN = 0
    while n < name.count {
        if p < pattern.count, pattern[p] == "?" || pattern[p] == name[n] {
            p += 1; n += 1
        } else if p < pattern.count, pattern[p] == "*" {
            starP = p; starN = n; p += 1
        } else if starP >= 0 {
            p = starP + 1; starN += 1; n = starN
        } else {
            return false
        }
    }
    while p < pattern.count, pattern[p] == "*" { p += 1 }
    return p == pattern.count
}
