import Objectives
import Attacks
import Foundation

/// The resolved recipe as YAML, every default written out. Reading the text back gives an
/// equal `Recipe`. Fractions keep their spelling with the value they became in a comment
/// (`eps: 8/255  # = 0.0313725`); weight expressions show their current value too.
public func renderYAML(_ recipe: Recipe) -> String {
    var out = YAMLWriter()
    out.comment("recipe '\(recipe.name)', fully resolved (extends, --set and defaults applied)")
    out.line("name", quote(recipe.name))

    out.section("data")
    let data = recipe.data
    out.line("name", quote(data.name), indent: 1)
    out.line("path", quote(data.path), indent: 1)
    out.line("splits", "{train: \(quote(data.splits.train, flow: true)), test: \(quote(data.splits.test, flow: true))}", indent: 1)
    out.line("val", "\(data.val)", indent: 1, comment: "carved out of train to select on, only when the dataset has no val split of its own")
    out.line("augment", "{crop_padding: \(data.augment.cropPadding), horizontal_flip: \(data.augment.horizontalFlip)}", indent: 1)
    out.line("drop_last", "\(data.dropLast)", indent: 1)

    out.section("model")
    out.line("name", recipe.model.name, indent: 1)
    if let classes = recipe.model.classes { out.line("classes", "\(classes)", indent: 1) }
    else { out.comment("classes: from the dataset's manifest.json", indent: 1) }
    for (option, value) in recipe.model.options.sorted(by: { $0.key < $1.key }) { out.line(option, "\(value)", indent: 1) }

    out.section("threat")
    let threat = recipe.threat
    out.line("norm", threat.norm.rawValue, indent: 1)
    out.number("eps", threat.eps, indent: 1)
    out.number("step", threat.step, indent: 1)
    out.line("steps", "\(threat.steps)", indent: 1)
    out.line("random_start", "\(threat.randomStart)", indent: 1)
    out.line("init", threat.initialization.rawValue, indent: 1)
    out.line("init_scale", formatNumber(threat.initScale), indent: 1)

    out.section("attack")
    out.line("objective", recipe.attack.objective.rawValue, indent: 1)
    out.line("model_mode", recipe.attack.modelMode.rawValue, indent: 1)
    out.line("kappa", formatNumber(recipe.attack.kappa), indent: 1, comment: "used by objective cw only")

    out.section("noise")
    let noise = recipe.noise
    out.line("enabled", "\(noise.enabled)", indent: 1)
    out.line("sigma", formatNumber(noise.sigma), indent: 1)
    out.line("params", "[" + noise.params.map { quote($0, flow: true, always: true) }.joined(separator: ", ") + "]", indent: 1)
    out.line("samples", "\(noise.samples)", indent: 1)
    out.line("attack_sees_noise", "\(noise.attackSeesNoise)", indent: 1)
    out.line("at_eval", "\(noise.atEval)", indent: 1)

    renderLoss(recipe.loss, into: &out)

    out.section("awp")
    out.line("enabled", "\(recipe.awp.enabled)", indent: 1)
    out.line("gamma", formatNumber(recipe.awp.gamma), indent: 1)
    out.line("warmup", "\(recipe.awp.warmup)", indent: 1)
    out.line("proxy_lr", formatNumber(recipe.awp.proxyLR), indent: 1)

    // Written only when set: recipe.yaml of runs from before the key stays the same.
    if recipe.distributed != DistributedSpec() {
        out.section("distributed")
        out.line("sync_bn", "\(recipe.distributed.syncBN)", indent: 1)
    }

    // Also written only when set (bf16): the hashes of fp32 runs stay what they were.
    if recipe.precision != .fp32 {
        out.line("precision", recipe.precision.rawValue, comment: "the training step's forward convolutions on oneDNN; evaluation runs fp32")
    }

    out.section("optim")
    let optim = recipe.optim
    out.line("kind", optim.kind.rawValue, indent: 1)
    out.line("lr", formatNumber(optim.lr), indent: 1)
    out.line("momentum", formatNumber(optim.momentum), indent: 1)
    out.line("nesterov", "\(optim.nesterov)", indent: 1)
    out.line("weight_decay", formatNumber(optim.weightDecay), indent: 1)

    out.section("schedule")
    out.line("epochs", "\(recipe.schedule.epochs)", indent: 1)
    out.line("batch", "\(recipe.schedule.batch)", indent: 1)
    switch recipe.schedule.lr {
    case .piecewise(let milestones, let factor):
        let list = milestones.map(String.init).joined(separator: ", ")
        out.line("lr", "{kind: piecewise, milestones: [\(list)], factor: \(formatNumber(factor))}", indent: 1)
    case .cosine(let finalLR):
        out.line("lr", "{kind: cosine, final_lr: \(formatNumber(finalLR))}", indent: 1)
    case .constant:
        out.line("lr", "{kind: constant}", indent: 1)
    }

    renderEval(recipe.eval, into: &out)
    out.line("seed", "\(recipe.seed)")
    out.line("output", quote(recipe.output))
    return out.text
}

private func renderLoss(_ loss: LossSpec, into out: inout YAMLWriter) {
    out.section("loss")
    let params = loss.params.keys.sorted().map { "\($0): \(formatNumber(loss.params[$0]!))" }
    out.line("params", "{" + params.joined(separator: ", ") + "}", indent: 1)
    out.line("terms", nil, indent: 1)
    for term in loss.terms {
        out.item("name", quote(term.name), indent: 2)
        out.line("kind", term.criterion.kind.rawValue, indent: 3)
        // The soft-label terms' views are implied by their kind: `on` is refused for them.
        let written = term.criterion.needsClassifierInputs ? [] : term.views
        let views = written.map { quote($0.description, flow: true) }
        if views.count == 1 { out.line("on", quote(written[0].description), indent: 3) }
        else if views.count > 1 { out.line("on", "[" + views.joined(separator: ", ") + "]", indent: 3) }
        let weightText = term.weight.description
        let value = formatNumber(loss.weight(of: term))
        out.line("weight", quote(weightText), indent: 3, comment: weightText == value ? nil : "= \(value)")
        if let perExample = term.term.exampleWeight { out.line("per_example", quote(perExample.description), indent: 3) }
        switch term.criterion {
        case .carliniWagner(let kappa):
            out.line("kappa", formatNumber(kappa), indent: 3)
        case .softLabelT1(let mixing), .softLabelT2(let mixing, _):
            if let mixing { out.line("mixing", formatNumber(mixing), indent: 3) }
            else { out.comment("mixing: 0.8 for up to 10 classes, 0.98 above (the authors' code)", indent: 3) }
            if case .softLabelT2(_, let repeatAdvMinusNat) = term.criterion {
                out.line("repeat_adv_minus_nat", "\(repeatAdvMinusNat)", indent: 3)
            }
        default:
            break
        }
    }
}

private func renderEval(_ eval: EvalSpec, into out: inout YAMLWriter) {
    out.section("eval")
    out.line("attacks", nil, indent: 1)
    for attack in eval.attacks {
        out.item("name", quote(attack.name), indent: 2)
        out.line("kind", attack.kind.rawValue, indent: 3)
        out.line("norm", attack.norm.rawValue, indent: 3)
        out.number("eps", attack.eps, indent: 3)
        for field in attack.kind.fields { renderAttackField(field, attack, into: &out) }
    }
    out.line("split", eval.split.rawValue, indent: 1)
    out.line("every", "\(eval.every)", indent: 1)
    out.line("select", "{metric: \(quote(eval.select.metric, flow: true)), split: \(eval.select.split.rawValue)}", indent: 1)
    if let examples = eval.examples { out.line("examples", "\(examples)", indent: 1) }
    else { out.comment("examples: all of the split", indent: 1) }
    out.line("eot", "\(eval.eot)", indent: 1)
    out.line("keep_every", "\(eval.keepEvery)", indent: 1, comment: eval.keepEvery == 0 ? "no epoch checkpoints kept" : nil)
}

/// Line-oriented YAML output; two spaces per level, `- ` items at their parent's level + 1.
private struct YAMLWriter {
    var text = ""

    mutating func section(_ key: String) { text += "\(key):\n" }

    mutating func line(_ key: String, _ value: String?, indent: Int = 0, comment: String? = nil) {
        text += String(repeating: "  ", count: indent) + key + ":"
        if let value { text += " " + value }
        if let comment { text += "  # " + comment }
        text += "\n"
    }

    /// The first key of a list item: `- key: value`, later keys at `indent + 1`.
    mutating func item(_ key: String, _ value: String, indent: Int) {
        text += String(repeating: "  ", count: indent) + "- \(key): \(value)\n"
    }

    mutating func number(_ key: String, _ number: WrittenNumber, indent: Int) {
        line(key, number.text, indent: indent,
             comment: number.isFraction ? "= " + String(format: "%.6g", number.value) : nil)
    }

    mutating func comment(_ text: String, indent: Int = 0) {
        self.text += String(repeating: "  ", count: indent) + "# " + text + "\n"
    }
}

/// A string as a YAML scalar that reads back as the same string: plain when safe, else double-quoted.
func quote(_ text: String, flow: Bool = false, always: Bool = false) -> String {
    let special: Set<Character> = flow ? [":", "#", ",", "[", "]", "{", "}", "\"", "'", "&", "*", "!", "|", ">", "%", "@", "`", "(", ")"]
                                       : [":", "#", "[", "]", "{", "}", "\"", "'", "&", "*", "!", "|", ">", "%", "@", "`", ","]
    let looksTyped = (try? NumberSyntax.parse(text, at: SourceLocation(file: "", line: 0, column: 0))) != nil
        || ["true", "false", "True", "False", "null", "Null", "NULL", "~", "yes", "no"].contains(text)
    let plainSafe = !always && !text.isEmpty && !looksTyped && !text.contains(where: { special.contains($0) })
        && text.first != "-" && text.first != "?" && text.first != " " && text.last != " " && !text.contains("\\")
    if plainSafe { return text }
    var escaped = "\""
    for character in text {
        switch character {
        case "\"": escaped += "\\\""
        case "\\": escaped += "\\\\"
        case "\n": escaped += "\\n"
        case "\t": escaped += "\\t"
        default: escaped.append(character)
        }
    }
    return escaped + "\""
}

/// One of an attack's own fields (`AttackSpec.Kind.fields`), as the recipe would write it.
private func renderAttackField(_ field: String, _ attack: AttackSpec, into out: inout YAMLWriter) {
    switch field {
    case "step": out.number("step", attack.stepNumber, indent: 3)
    case "steps": out.line("steps", "\(attack.steps)", indent: 3)
    case "random_start": out.line("random_start", "\(attack.randomStart)", indent: 3)
    case "restarts": out.line("restarts", "\(attack.restarts)", indent: 3)
    case "kappa": out.line("kappa", formatNumber(attack.kappa), indent: 3)
    case "iterations": out.line("iterations", "\(attack.iterations)", indent: 3)
    case "rho": out.line("rho", formatNumber(attack.rho), indent: 3)
    case "targets":
        if let targets = attack.targets { out.line("targets", "\(targets)", indent: 3) }
        else { out.comment("targets: 9, or classes − 1 when fewer", indent: 3) }
    case "eot": out.line("eot", "\(attack.eot)", indent: 3)
    case "alpha_max": out.line("alpha_max", formatNumber(attack.alphaMax), indent: 3)
    case "eta": out.line("eta", formatNumber(attack.eta), indent: 3)
    case "beta": out.line("beta", formatNumber(attack.beta), indent: 3)
    case "queries": out.line("queries", "\(attack.queries)", indent: 3)
    case "p_init": out.line("p_init", formatNumber(attack.pInit), indent: 3)
    default: preconditionFailure("no rendering for attack field '\(field)'")
    }
}
