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
    var options = [String: Int]()
    if let d = recipe.model.depth { options["depth"] = d }
    if let w = recipe.model.width { options["width"] = w }
    do {
        return try ModelZoo.make(name: recipe.model.name.rawValue, options: options, classes: classes,
                                 inputShape: [channels, height, width])
    } catch {
        throw TrainingError("\(recipe.locations.location(of: "model.name")): \(error)")
    }
}

func engineView(_ v: Recipe::View) -> Objectives::View {
    Objectives::View(v.input == .clean ? .clean : .adversarial, order: v.order.rawValue)
}

/// The passes the authors' soft-label terms compare: clean and adversarial logits (order 0).
let softLabelViews = [Objectives::View(.clean), Objectives::View(.adversarial)]

/// The recipe's loss terms with their weights evaluated (after `--set` overrides).
public func lossTerms(_ recipe: Recipe) throws -> [Objectives::LossTerm] {
    recipe.loss.terms.map { term in
        let weight = recipe.loss.weight(of: term)
        let criterion: Objectives::Criterion
        let views: [Objectives::View]
        switch term.criterion {
        case .crossEntropy(let v): (criterion, views) = (.crossEntropy, [engineView(v)])
        case .kl(let p, let q): (criterion, views) = (.kl, [engineView(p), engineView(q)])
        case .symmetricKL(let p, let q): (criterion, views) = (.symmetricKL, [engineView(p), engineView(q)])
        case .mse(let a, let b): (criterion, views) = (.squaredError, [engineView(a)] + (b.map { [engineView($0)] } ?? []))
        case .cw(let v, let kappa): (criterion, views) = (.carliniWagner(kappa: kappa), [engineView(v)])
        case .softLabelT1(let options):
            // A mixing left out is resolved from the label width when the graph is built.
            (criterion, views) = (.softLabelT1(mixing: options.mixing), softLabelViews)
        case .softLabelT2(let options):
            (criterion, views) = (.softLabelT2(mixing: options.mixing, repeatAdvMinusNat: options.repeatAdvMinusNat),
                                  softLabelViews)
        }
        return Objectives::LossTerm(name: term.name, criterion: criterion, views: views, weight: weight)
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

/// BatchNorm's mode while the training attack runs (`attack.model_mode`).
public func trainingAttackMode(_ recipe: Recipe) -> NormalizationMode {
    recipe.attack.modelMode == .eval ? .eval : .train
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
