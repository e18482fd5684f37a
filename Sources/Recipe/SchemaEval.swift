import Attacks

/// The logical splits a recipe can evaluate or select on; `val` is the carve-out of `data.val`.
public enum Split: String, CaseIterable, Sendable {
    case train, val, test
}

/// Evaluation attacks are `AttackSpec`s (module Attacks), declared there once with their
/// reference defaults; this is how a recipe writes them: a shorthand (`pgd20`, `cw20`,
/// `fgsm`, `apgd-ce`, `apgd-t`, `fab-t`, `square`, `aa`, `aa-plus`, `aa-rand`) or a mapping
/// with `kind` and the fields that kind reads. Fields left out inherit from `threat`.
extension AttackSpec {
    static let commonKeys = ["name", "kind", "norm", "eps"]
    static let shorthands = ["pgd20", "cw20", "fgsm"] + Kind.allCases.filter { ![.pgd, .cw, .fgsm].contains($0) }.map(\.rawValue)

    init(kind: Kind, steps: Int = 20, threat: ThreatSpec) {
        self.init(kind: kind, norm: threat.norm, epsilon: threat.eps.value, epsilonText: threat.eps.text,
                  step: threat.step.value, steps: steps)
        stepText = kind == .fgsm ? threat.eps.text : threat.step.text
    }

    init(from node: YAMLNode, path: String, threat: ThreatSpec) throws {
        if case .scalar = node.value {
            let text = try readString(node, path: path)
            guard let (kind, steps) = AttackSpec.shorthand(text) else {
                throw RecipeError("unknown attack '\(text)' for '\(path)': expected pgd<steps>, cw<steps>, "
                                  + "\(AttackSpec.shorthands.dropFirst(2).joined(separator: ", ")) or a mapping with 'kind'"
                                  + (nearest(to: text, among: AttackSpec.shorthands).map { " — did you mean '\($0)'?" } ?? ""),
                                  at: node.location)
            }
            self.init(kind: kind, steps: steps, threat: threat)
            return
        }
        let all = AttackSpec.commonKeys + Set(Kind.allCases.flatMap(\.fields)).sorted()
        let reader = try MappingReader(node, path: path, known: all)
        guard let kindNode = reader.child("kind") else {
            throw RecipeError("missing key 'kind' in '\(path)' (\(Kind.allCases.map(\.rawValue).joined(separator: ", ")))",
                              at: node.location)
        }
        let kind: Kind = try readChoice(kindNode, path: "\(path).kind")
        for key in all where reader.has(key) && !AttackSpec.commonKeys.contains(key) && !kind.fields.contains(key) {
            throw RecipeError("'\(key)' does not apply to \(kind.rawValue) attacks (they take: "
                              + "\((AttackSpec.commonKeys + kind.fields).joined(separator: ", ")))", at: reader.child(key)!.location)
        }
        var base = ThreatSpec(norm: try reader.choice("norm", default: threat.norm))
        if base.norm == threat.norm { base = threat }
        self.init(kind: kind, steps: try reader.int("steps", default: kind == .fgsm ? 1 : 20), threat: base)
        let eps = try reader.number("eps", default: WrittenNumber(value: epsilon, text: epsilonText))
        (epsilon, epsilonText) = (eps.value, eps.text)
        let step = try reader.number("step", default: kind == .fgsm ? eps : WrittenNumber(value: self.step, text: stepText))
        (self.step, stepText) = (step.value, step.text)
        randomStart = try reader.bool("random_start", default: randomStart)
        restarts = try reader.int("restarts", default: restarts)
        kappa = try reader.double("kappa", default: kappa)
        iterations = try reader.int("iterations", default: iterations)
        rho = try reader.double("rho", default: rho)
        targets = try reader.optionalInt("targets") ?? targets
        eot = try reader.int("eot", default: eot)
        alphaMax = try reader.double("alpha_max", default: alphaMax)
        eta = try reader.double("eta", default: eta)
        beta = try reader.double("beta", default: beta)
        queries = try reader.int("queries", default: queries)
        pInit = try reader.double("p_init", default: pInit)
        name = try reader.string("name", default: name)
    }

    var eps: WrittenNumber { WrittenNumber(value: epsilon, text: epsilonText) }
    var stepNumber: WrittenNumber { WrittenNumber(value: step, text: stepText) }

    static func shorthand(_ text: String) -> (Kind, Int)? {
        if let kind = Kind(rawValue: text), ![.pgd, .cw].contains(kind) { return (kind, kind == .fgsm ? 1 : 20) }
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
    public var attacks: [AttackSpec]
    /// The split of the final report.
    public var split: Split
    /// Validate every this many epochs (for checkpoint selection).
    public var every: Int
    public var select: Selection
    /// Evaluate only the first `examples` images; nil = the whole split.
    public var examples: Int?
    /// Expectation over transformation: gradient samples averaged per attack step (for randomized models).
    public var eot: Int
    /// Keep every k-th epoch's weights as `epoch-<n>.safetensors` (0: none), so that
    /// `rat eval --checkpoints all` can report the best ever reached, as the paper does.
    public var keepEvery: Int

    /// Which checkpoint is reported: the best on `metric` (`clean` or an attack name) on `split`.
    public struct Selection: Equatable, Sendable {
        public var metric: String = "pgd20"
        public var split: Split = .val
        public init() {}
    }

    public init(threat: ThreatSpec = ThreatSpec()) {
        attacks = [AttackSpec(kind: .pgd, threat: threat), AttackSpec(kind: .cw, threat: threat)]
        split = .test
        every = 1
        select = Selection()
        examples = nil
        eot = 1
        keepEvery = 0
    }

    static let keys = ["attacks", "split", "every", "select", "examples", "eot", "keep_every"]

    init(from node: YAMLNode, threat: ThreatSpec) throws {
        let reader = try MappingReader(node, path: "eval", known: EvalSpec.keys)
        self.init(threat: threat)
        if let attacksNode = reader.child("attacks") {
            attacks = try readSequence(attacksNode, path: "eval.attacks").enumerated().map { index, item in
                try AttackSpec(from: item, path: "eval.attacks.\(index)", threat: threat)
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
        keepEvery = try reader.int("keep_every", default: keepEvery)
    }
}
