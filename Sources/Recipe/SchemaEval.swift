/// The logical splits a recipe can evaluate or select on; `val` is the carve-out of `data.val`.
public enum Split: String, CaseIterable, Sendable {
    case train, val, test
}

/// One evaluation attack, fully resolved: fields left out inherit from `threat`.
public struct EvalAttack: Equatable, Sendable {
    public enum Kind: String, CaseIterable, Sendable {
        /// Projected gradient descent on cross-entropy.
        case pgd
        /// The same loop on the CW margin `-clamp(z_y - max_{j≠y} z_j + κ, min=0)`.
        case cw
        /// One step of size ε, no random start.
        case fgsm
    }

    /// How metrics and `eval.select.metric` refer to it: `pgd20`, `cw20`, `fgsm` unless named.
    public var name: String
    public var kind: Kind
    public var norm: Norm
    public var eps: WrittenNumber
    public var step: WrittenNumber
    public var steps: Int
    /// Uniform start in the ε-ball; without it PGD overestimates robustness.
    public var randomStart: Bool
    /// CW confidence (docs/method.md §4: 50); nil for the other kinds.
    public var kappa: Double?

    /// The protocol's attack of this kind against `threat`: 20 steps of `threat.step` from a
    /// uniform random start, or FGSM with one step of ε.
    public init(kind: Kind, steps: Int = 20, threat: ThreatSpec) {
        self.kind = kind
        self.norm = threat.norm
        self.eps = threat.eps
        switch kind {
        case .fgsm:
            self.steps = 1; step = threat.eps; randomStart = false; kappa = nil
        case .pgd, .cw:
            self.steps = steps; step = threat.step; randomStart = true; kappa = kind == .cw ? 50 : nil
        }
        self.name = kind == .fgsm ? "fgsm" : "\(kind.rawValue)\(self.steps)"
    }

    static let keys = ["name", "kind", "norm", "eps", "step", "steps", "random_start", "kappa"]

    /// A shorthand (`pgd20`, `cw20`, `pgd`, `fgsm`) or a mapping with `kind` and overrides.
    init(from node: YAMLNode, path: String, threat: ThreatSpec) throws {
        if case .scalar = node.value {
            let text = try readString(node, path: path)
            guard let (kind, steps) = EvalAttack.shorthand(text) else {
                let suggestion = nearest(to: text, among: ["pgd20", "cw20", "fgsm"]).map { " — did you mean '\($0)'?" } ?? ""
                throw RecipeError("unknown attack '\(text)' for '\(path)': expected pgd<steps>, cw<steps>, fgsm "
                                  + "or a mapping with 'kind'\(suggestion)", at: node.location)
            }
            self.init(kind: kind, steps: steps, threat: threat)
            return
        }
        let reader = try MappingReader(node, path: path, known: EvalAttack.keys)
        guard let kindNode = reader.child("kind") else {
            throw RecipeError("missing key 'kind' in '\(path)' (pgd, cw or fgsm)", at: node.location)
        }
        let kind: Kind = try readChoice(kindNode, path: "\(path).kind")
        var base = ThreatSpec(norm: try reader.choice("norm", default: threat.norm))
        if base.norm == threat.norm { base = threat }
        self.init(kind: kind, steps: try reader.int("steps", default: kind == .fgsm ? 1 : 20), threat: base)
        if kind == .fgsm, reader.has("steps"), steps != 1 {
            throw RecipeError("fgsm takes exactly one step; use kind pgd for more", at: reader.child("steps")!.location)
        }
        if kind != .cw, let kappaNode = reader.child("kappa") {
            throw RecipeError("'kappa' applies only to cw attacks", at: kappaNode.location)
        }
        eps = try reader.number("eps", default: eps)
        step = try reader.number("step", default: kind == .fgsm ? eps : step)
        randomStart = try reader.bool("random_start", default: randomStart)
        if kind == .cw { kappa = try reader.double("kappa", default: 50) }
        name = try reader.string("name", default: name)
    }

    static func shorthand(_ text: String) -> (Kind, Int)? {
        if text == "fgsm" { return (.fgsm, 1) }
        for kind in [Kind.pgd, .cw] where text.hasPrefix(kind.rawValue) {
            let digits = text.dropFirst(kind.rawValue.count)
            if digits.isEmpty { return (kind, 20) }
            if digits.allSatisfy(\.isNumber), let steps = Int(digits), steps > 0 { return (kind, steps) }
        }
        return nil
    }
}

/// Evaluation during and after training, and how the reported checkpoint is chosen.
public struct EvalSpec: Equatable, Sendable {
    public var attacks: [EvalAttack]
    /// The split of the final report.
    public var split: Split
    /// Validate every this many epochs (for checkpoint selection).
    public var every: Int
    public var select: Selection
    /// Evaluate only the first `examples` images; nil = the whole split.
    public var examples: Int?
    /// Expectation over transformation: gradient samples averaged per attack step (for randomized models).
    public var eot: Int

    /// Which checkpoint is reported: the best on `metric` (`clean` or an attack name) on `split`.
    public struct Selection: Equatable, Sendable {
        public var metric: String = "pgd20"
        public var split: Split = .val
        public init() {}
    }

    public init(threat: ThreatSpec = ThreatSpec()) {
        attacks = [EvalAttack(kind: .pgd, threat: threat), EvalAttack(kind: .cw, threat: threat)]
        split = .test
        every = 1
        select = Selection()
        examples = nil
        eot = 1
    }

    static let keys = ["attacks", "split", "every", "select", "examples", "eot"]

    init(from node: YAMLNode, threat: ThreatSpec) throws {
        let reader = try MappingReader(node, path: "eval", known: EvalSpec.keys)
        self.init(threat: threat)
        if let attacksNode = reader.child("attacks") {
            attacks = try readSequence(attacksNode, path: "eval.attacks").enumerated().map { index, item in
                try EvalAttack(from: item, path: "eval.attacks.\(index)", threat: threat)
            }
            var seen: [String: Int] = [:]
            for (index, attack) in attacks.enumerated() {
                if let first = seen[attack.name] {
                    let items = try readSequence(attacksNode, path: "eval.attacks")
                    throw RecipeError("two attacks are named '\(attack.name)' (items \(first) and \(index)); give one a 'name'",
                                      at: items[index].location)
                }
                seen[attack.name] = index
            }
        }
        split = try reader.choice("split", default: split)
        every = try reader.int("every", default: every)
        if let selectNode = reader.child("select") {
            let selectReader = try MappingReader(selectNode, path: "eval.select", known: ["metric", "split"])
            select.metric = try selectReader.string("metric", default: select.metric)
            select.split = try selectReader.choice("split", default: select.split)
        }
        let metrics = ["clean"] + attacks.map(\.name)
        if !metrics.contains(select.metric) {
            let location = reader.child("select")?.entry("metric")?.value.location ?? node.location
            throw RecipeError("unknown selection metric '\(select.metric)' for 'eval.select.metric'"
                              + didYouMean(select.metric, among: metrics), at: location)
        }
        examples = try reader.optionalInt("examples")
        eot = try reader.int("eot", default: eot)
    }
}
