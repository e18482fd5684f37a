import Models
import Attacks
import Foundation
import Kernels

/// What `check` may look at beyond the recipe itself.
public struct CheckOptions: Sendable {
    /// Look for the dataset's `manifest.json` and compare its shape with the model.
    public var inspectDataset: Bool
    /// Relative `data.path`s resolve against this folder (default: the current directory).
    public var workingDirectory: String?

    public init(inspectDataset: Bool = true, workingDirectory: String? = nil) {
        self.inspectDataset = inspectDataset
        self.workingDirectory = workingDirectory
    }
}

/// Semantic checks of a loaded recipe: errors for values that cannot work, warnings for
/// protocol problems that would make a robustness claim doubtful (docs/method.md §4).
public func check(_ recipe: Recipe, options: CheckOptions = CheckOptions()) -> [Diagnostic] {
    var findings = Findings(locations: recipe.locations)
    checkThreat(recipe, &findings)
    checkLoss(recipe, &findings)
    checkTraining(recipe, &findings)
    checkPrecision(recipe, &findings)
    checkEvaluation(recipe, &findings)
    if options.inspectDataset { checkDataset(recipe, options: options, &findings) }
    // In reading order, errors before warnings at the same place.
    return findings.diagnostics.enumerated().sorted { a, b in
        let (x, y) = (a.element.location, b.element.location)
        if x.file != y.file { return a.offset < b.offset }
        if x.line != y.line { return x.line < y.line }
        if x.column != y.column { return x.column < y.column }
        return a.offset < b.offset
    }.map(\.element)
}

struct Findings {
    let locations: SourceLocations
    var diagnostics: [Diagnostic] = []

    mutating func error(_ message: String, at keyPath: String) {
        diagnostics.append(Diagnostic(.error, message, at: locations.location(of: keyPath)))
    }

    mutating func warning(_ message: String, at keyPath: String) {
        diagnostics.append(Diagnostic(.warning, message, at: locations.location(of: keyPath)))
    }
}

/// ε written as a decimal that is almost, but not exactly, k/255 (`0.031` ≈ 7.9/255).
func nearMissOf255(_ number: WrittenNumber) -> Int? {
    guard !number.isFraction, number.value > 0 else { return nil }
    let scaled = number.value * 255
    let nearest = scaled.rounded()
    let gap = abs(scaled - nearest)
    return nearest >= 1 && gap > 1e-6 && gap <= 0.15 ? Int(nearest) : nil
}

private func checkBudget(eps: WrittenNumber, step: WrittenNumber, steps: Int, path: String, checkStep: Bool,
                         _ findings: inout Findings) {
    if !(eps.value > 0) { findings.error("ε must be > 0, it is \(eps.text)", at: "\(path).eps") }
    if !(step.value > 0) { findings.error("the step must be > 0, it is \(step.text)", at: "\(path).step") }
    if checkStep, eps.value > 0, step.value > eps.value {
        findings.error("the step (\(step.text)) is larger than ε (\(eps.text))", at: "\(path).step")
    }
    if steps < 1 { findings.error("an attack needs at least one step, 'steps' is \(steps)", at: "\(path).steps") }
    if let k = nearMissOf255(eps) {
        findings.warning("ε written as \(eps.text) is \(String(format: "%.3f", eps.value * 255))/255, not \(k)/255; "
                         + "write \(k)/255 if that is the intended radius, or say which one a result uses", at: "\(path).eps")
    }
}

private func checkThreat(_ recipe: Recipe, _ findings: inout Findings) {
    let threat = recipe.threat
    checkBudget(eps: threat.eps, step: threat.step, steps: threat.steps, path: "threat", checkStep: true, &findings)
    if threat.initScale < 0 { findings.error("'init_scale' must be ≥ 0", at: "threat.init_scale") }
    if recipe.attack.modelMode == .train {
        findings.warning("the training attack runs the model in train mode: BatchNorm statistics move with every attack step",
                         at: "attack.model_mode")
    }
}

private func checkLoss(_ recipe: Recipe, _ findings: inout Findings) {
    let loss = recipe.loss
    var used = Set<String>()
    for (index, term) in loss.terms.enumerated() {
        let path = "loss.terms.\(index)"
        used.formUnion(term.weight.parameterNames)
        let weight = loss.weight(of: term)
        if !weight.isFinite {
            findings.error("the weight of term '\(term.name)' (\(term.weight)) is not a finite number", at: "\(path).weight")
        }
        if let view = term.term.allViews.first(where: { $0.order != 0 || $0.noisy }), !recipe.noise.isActive {
            let compared = term.views.contains(view)
            let subject = compared ? "compares \(view)" : "reads \(view) in its per-example weight"
            findings.error(view.noisy
                           ? "term '\(term.name)' \(subject), the model at w + u, but noise is off "
                             + "(noise.enabled false or sigma 0): it would be the model at w"
                           : "term '\(term.name)' \(subject), a Taylor term in the weight noise u, but noise is off "
                             + "(noise.enabled false or sigma 0): it would be identically zero",
                           at: compared ? "\(path).on" : "\(path).per_example")
        }
        if term.criterion == .squaredError, term.views.count == 2, term.views[0] == term.views[1] {
            findings.warning("term '\(term.name)' compares \(term.views[0]) with itself: it is always zero", at: "\(path).on")
        }
        if case .softLabelT1(let mixing?) = term.criterion, !(0...1).contains(mixing) {
            findings.error("'mixing' must be in [0, 1]", at: "\(path).mixing")
        }
        if case .softLabelT2(let mixing?, _) = term.criterion, !(0...1).contains(mixing) {
            findings.error("'mixing' must be in [0, 1]", at: "\(path).mixing")
        }
    }
    for name in loss.params.keys.sorted() where !used.contains(name) {
        findings.warning("loss parameter '\(name)' is not used by any term's weight", at: "loss.params.\(name)")
    }
    if !loss.usesAdversarialInput {
        findings.warning("no loss term looks at the adversarial input: this trains a standard, non-robust model", at: "loss.terms")
    }
    let noise = recipe.noise
    if noise.isActive, loss.maxOrder == 0, !loss.usesNoisyModel, !noise.attackSeesNoise, !noise.atEval {
        findings.warning("noise is enabled but nothing uses it (no J/H/noisy views, attack_sees_noise false)", at: "noise")
    }
}

/// bf16 is a request to oneDNN: where it cannot be honoured here, say so rather than train
/// fp32 under a recipe that says bf16.
private func checkPrecision(_ recipe: Recipe, _ findings: inout Findings) {
    guard recipe.precision == .bf16 else { return }
    if !oneDNNEnabled {
        findings.warning("precision: bf16 applies to oneDNN's convolutions, and RAT_ONEDNN=0 switches them off: "
                         + "this process trains in fp32", at: "precision")
    } else if !oneDNNBF16Native {
        findings.warning("precision: bf16, but this CPU has neither AVX512_BF16 nor AMX: oneDNN emulates bf16 or "
                         + "declines it (those convolutions run fp32), and it will not be faster", at: "precision")
    }
}

private func checkTraining(_ recipe: Recipe, _ findings: inout Findings) {
    let noise = recipe.noise
    if noise.sigma < 0 { findings.error("'sigma' must be ≥ 0", at: "noise.sigma") }
    if noise.samples < 1 { findings.error("'samples' must be ≥ 1", at: "noise.samples") }
    if noise.enabled, noise.params.isEmpty { findings.error("'params' selects no parameters", at: "noise.params") }
    if recipe.awp.gamma < 0 { findings.error("'gamma' must be ≥ 0", at: "awp.gamma") }
    if recipe.awp.enabled, recipe.awp.warmup >= recipe.schedule.epochs {
        findings.warning("AWP warm-up (\(recipe.awp.warmup)) is not shorter than training (\(recipe.schedule.epochs) epochs): "
                         + "AWP never runs", at: "awp.warmup")
    }
    let optim = recipe.optim
    if !(optim.lr > 0) { findings.error("'lr' must be > 0", at: "optim.lr") }
    if !(0..<1).contains(optim.momentum) { findings.error("'momentum' must be in [0, 1)", at: "optim.momentum") }
    if optim.nesterov, optim.momentum == 0 { findings.error("nesterov needs momentum > 0", at: "optim.nesterov") }
    if optim.weightDecay < 0 { findings.error("'weight_decay' must be ≥ 0", at: "optim.weight_decay") }
    let schedule = recipe.schedule
    if schedule.epochs < 1 { findings.error("'epochs' must be ≥ 1", at: "schedule.epochs") }
    if schedule.batch < 1 { findings.error("'batch' must be ≥ 1", at: "schedule.batch") }
    if case .piecewise(let milestones, let factor) = schedule.lr {
        if milestones != milestones.sorted() || Set(milestones).count != milestones.count {
            findings.error("milestones must increase: \(milestones)", at: "schedule.lr.milestones")
        }
        if let late = milestones.first(where: { $0 <= 0 || $0 >= schedule.epochs }) {
            findings.warning("milestone \(late) is outside training (1..<\(schedule.epochs)): it never applies",
                             at: "schedule.lr.milestones")
        }
        if !(factor > 0) { findings.error("'factor' must be > 0", at: "schedule.lr.factor") }
    }
    let model = recipe.model
    if let classes = model.classes, classes < 2 { findings.error("a classifier needs ≥ 2 classes", at: "model.classes") }
    // The zoo's own check of its options (wide-resnet's 6n+4 depth, widths ≥ 1), at the option's key.
    if let problem = ModelZoo.optionProblem(name: model.name, options: model.options) {
        let option = if case .invalidOption(_, let option, _, _) = problem { option } else { "name" }
        findings.error(problem.description, at: "model.\(option)")
    }
    if recipe.distributed.syncBN, let hasBatchNorm = modelHasBatchNorm(model), !hasBatchNorm {
        findings.warning("distributed.sync_bn is set but model '\(model.name)' has no BatchNorm: there is nothing to synchronise",
                         at: "distributed.sync_bn")
    }
    let data = recipe.data
    if data.val < 0 { findings.error("'val' must be ≥ 0", at: "data.val") }
    if data.augment.cropPadding < 0 { findings.error("'crop_padding' must be ≥ 0", at: "data.augment.crop_padding") }
}

/// Whether the recipe's model has BatchNorm layers (its eval-mode graph reads buffers), built
/// at a shape it takes without the dataset (RGB 32×32 or grey 28×28); nil if neither builds.
private func modelHasBatchNorm(_ spec: ModelSpec) -> Bool? {
    for shape in [[3, 32, 32], [1, 28, 28]] {
        if let model = try? ModelZoo.make(name: spec.name, options: spec.options, classes: spec.classes ?? 10, inputShape: shape) {
            return !model.forwardGraph(inputShape: [1] + shape, mode: .eval).buffers.isEmpty
        }
    }
    return nil
}

private func checkEvaluation(_ recipe: Recipe, _ findings: inout Findings) {
    let eval = recipe.eval
    for (index, attack) in eval.attacks.enumerated() {
        let path = "eval.attacks.\(index)"
        // An attack that inherits ε and step from `threat` was checked with it: say it once.
        let inherited = attack.eps.text == recipe.threat.eps.text
            && (attack.stepText == recipe.threat.step.text || attack.kind == .fgsm)
        if !inherited {
            checkBudget(eps: attack.eps, step: attack.stepNumber, steps: attack.steps, path: path,
                        checkStep: attack.kind != .fgsm, &findings)
        } else if attack.steps < 1 {
            findings.error("an attack needs at least one step, 'steps' is \(attack.steps)", at: "\(path).steps")
        }
        guard [.pgd, .cw].contains(attack.kind) else { continue }
        if !attack.randomStart {
            findings.warning("\(attack.name) starts at the clean input: without a random start PGD overestimates robustness",
                             at: "\(path).random_start")
        }
        if attack.steps < 20 {
            findings.warning("\(attack.name) runs \(attack.steps) steps: a robustness claim needs at least 20", at: "\(path).steps")
        }
    }
    if !eval.attacks.contains(where: { $0.kind != .fgsm }) {
        findings.warning("no iterative attack is evaluated: FGSM alone does not support a robustness claim",
                         at: "eval.attacks")
    }
    if eval.every < 1 { findings.error("'every' must be ≥ 1", at: "eval.every") }
    if eval.eot < 1 { findings.error("'eot' must be ≥ 1", at: "eval.eot") }
    if eval.keepEvery < 0 { findings.error("'keep_every' must be ≥ 0 (0 keeps no epoch checkpoints)", at: "eval.keep_every") }
    if let examples = eval.examples {
        if examples < 1 { findings.error("'examples' must be ≥ 1", at: "eval.examples") }
        else { findings.warning("evaluation uses only the first \(examples) images; say so when reporting", at: "eval.examples") }
    }
    if eval.select.split == .test {
        findings.warning("checkpoints are selected on the test split: the reported number is then optimistic; "
                         + "select on 'val' (data.val > 0)", at: "eval.select.split")
    }
    for (split, path) in [(eval.select.split, "eval.select.split"), (eval.split, "eval.split")]
    where split == .val && recipe.data.val == 0 {
        // Point at whichever of the two was written (the override or line that caused the clash).
        let site = recipe.locations.table[path] != nil ? path : "data.val"
        findings.error("'\(path)' is val but data.val is 0: there is no validation split", at: site)
    }
    if recipe.noise.isActive, recipe.noise.atEval, eval.eot < 2 {
        findings.warning("the model is randomized at inference (noise.at_eval) but attacks use no EOT (eval.eot = 1): "
                         + "gradients of one noise draw overestimate robustness; use eot ≥ 20", at: "eval.eot")
    }
}
