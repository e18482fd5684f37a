import Attacks
import Graph
import Models
import Objectives
import Recipe

// Maps the recipe's typed sections onto the engine's objects. No numbers are invented
// here: every value comes from the recipe (whose defaults are the paper's).

/// Errors that stop a run before it starts or while it runs, each naming what to fix.
public struct TrainingError: Error, CustomStringConvertible {
    public var description: String
    public init(_ message: String) { description = message }
}

public func makeModel(_ recipe: Recipe, channels: Int, height: Int, width: Int, classes: Int) throws -> any Model {
    if let declared = recipe.model.classes, declared != classes {
        throw TrainingError("\(recipe.locations.location(of: "model.classes")): model.classes is \(declared) but the dataset has \(classes) classes")
    }
    do {
        return try ModelZoo.make(name: recipe.model.name, options: recipe.model.options, classes: classes,
                                 inputShape: [channels, height, width])
    } catch {
        // A value the zoo refuses is reported at its own key (`model.depth`), the rest at the name.
        let key = if case ModelError.invalidOption(_, let option, _, _) = error { "model.\(option)" } else { "model.name" }
        throw TrainingError("\(recipe.locations.location(of: key)): \(error)")
    }
}

public func threatModel(_ spec: ThreatSpec) -> ThreatModel {
    ThreatModel(norm: spec.norm, epsilon: spec.eps.value, stepSize: spec.step.value)
}

/// The training attack: PGD on the recipe's `attack.objective` under `threat`.
public func trainingAttack(_ recipe: Recipe) -> PGD {
    let loss: AttackLoss = switch recipe.attack.objective {
    case .kl: .kl
    case .ce: .crossEntropy
    case .cw: .carliniWagner(kappa: recipe.attack.kappa)
    }
    return PGD(name: "training", loss: loss, threat: threatModel(recipe.threat), steps: recipe.threat.steps,
               start: attackStart(recipe.threat))
}

/// BatchNorm's mode while the training attack runs (`attack.model_mode`); train mode is
/// synchronised over `batchNormRanks` data-parallel ranks when they share BN statistics.
public func trainingAttackMode(_ recipe: Recipe, batchNormRanks: Int = 1) -> NormalizationMode {
    recipe.attack.modelMode == .eval ? .eval : .train(synchronizedOver: batchNormRanks)
}

/// `*` matches any run of characters, `?` one character: `*.conv*.weight`, `layer1.*`.
public func globMatches(_ pattern: String, _ name: String) -> Bool {
    let p = Array(pattern), s = Array(name)
    var (pi, si, star, mark) = (0, 0, -1, 0)
    while si < s.count {
        if pi < p.count && (p[pi] == "?" || p[pi] == s[si]) { pi += 1; si += 1 }
        else if pi < p.count && p[pi] == "*" { star = pi; mark = si; pi += 1 }
        else if star >= 0 { pi = star + 1; mark += 1; si = mark }
        else { return false }
    }
    while pi < p.count && p[pi] == "*" { pi += 1 }
    return pi == p.count
}

/// The training attack's start (`threat.random_start`, `init`, `init_scale`).
public func attackStart(_ spec: ThreatSpec) -> AttackStart {
    guard spec.randomStart else { return .clean }
    switch spec.initialization {
    case .normal: return .normal(scale: spec.initScale)
    case .uniform: return .uniform(norm: spec.norm, epsilon: spec.eps.value)
    }
}
