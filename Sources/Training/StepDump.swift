import Checkpoints
import Foundation
import Objectives
import Recipe

/// Writes every tensor of one training step, as the loss graph saw it, to a safetensors
/// file (Float32, PyTorch layouts) so that a new loss variant can be cross-checked against
/// another framework. Names (docs/step-dump.md):
///   param/<name>  noise/<name>  grad/<name>  input/clean  input/adversarial  label
///   logits|jvp1|jvp2|noisy/clean|adversarial  loss/<term>  loss/total
/// Run it after `StepProgram.step(…, update: false)`: the graphs still hold that step.
public func dumpStep(_ program: StepProgram, labels: [Int32], to path: String) throws {
    let training = program.training
    let loss = program.loss
    var file = SafeTensors(metadata: [
        "format": "rat-step-1",
        "recipe": renderYAML(program.recipe),
        "terms": termsJSON(training.terms),
        "batchnorm": "train mode in the loss (batch statistics, biased variance, eps 1e-5); "
            + "the attack's mode is the recipe's attack.model_mode",
        "param": "the weights the loss was evaluated at (w, or w + γ·v when AWP is active)",
        "jvp1": "d/dt logits(w + t·u) at t = 0",
        "jvp2": "d²/dt² logits(w + t·u) at t = 0, i.e. uᵀHu (not halved)",
        "noisy": "logits(w + u): the randomized model of noisy(·) views",
        "grad": "gradient of loss/total with respect to each parameter",
    ])
    for (i, p) in training.parameters.enumerated() {
        try file.add("param/\(p.name)", float32: Array(try loss.input(p.name)), shape: p.shape)
        if loss.declares("noise/\(p.name)") {
            try file.add("noise/\(p.name)", float32: Array(try loss.input("noise/\(p.name)")), shape: p.shape)
        }
        try file.add("grad/\(p.name)", float32: Array(loss.output(training.layout.gradients.lowerBound + i)), shape: p.shape)
    }
    for kind in ["clean", "adversarial"] where loss.declares("input/\(kind)") {
        try file.add("input/\(kind)", float32: Array(try loss.input("input/\(kind)")), shape: program.inputShape)
    }
    try file.add("label", int64: labels.map(Int64.init), shape: [labels.count])
    for (view, index) in training.layout.views {
        let prefix = view.noisy ? "noisy" : ["logits", "jvp1", "jvp2"][view.order]
        try file.add("\(prefix)/\(view.input.rawValue)", float32: Array(loss.output(index)),
                     shape: [program.inputShape[0], program.classes])
    }
    for (k, term) in training.terms.enumerated() {
        try file.add("loss/\(term.name)", float32: Array(loss.output(training.layout.terms.lowerBound + k)), shape: [1])
    }
    try file.add("loss/total", float32: Array(loss.output(training.layout.total)), shape: [1])
    try file.write(to: path)
}

/// The loss terms as compiled: name, criterion, views, weight (a JSON list).
func termsJSON(_ terms: [Objectives.LossTerm]) -> String {
    let list: [[String: Any]] = terms.map {
        var entry: [String: Any] = ["name": $0.name, "kind": $0.criterion.name, "views": $0.views.map(\.description),
                                    "weight": $0.weight]
        if let perExample = $0.exampleWeight { entry["per_example"] = perExample.description }
        return entry
    }
    let data = (try? JSONSerialization.data(withJSONObject: list, options: [.sortedKeys])) ?? Data("[]".utf8)
    return String(decoding: data, as: UTF8.self)
}
