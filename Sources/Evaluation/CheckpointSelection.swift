import Foundation
import Recipe
import Training

/// Which checkpoints of a run `rat eval --checkpoints` evaluates.
public enum CheckpointChoice: String, CaseIterable, Sendable {
    /// Selected on the validation split during training (`best.safetensors`).
    case best
    case last
    /// Every kept epoch (`eval.keep_every`), then last and best.
    case all
}

/// Several checkpoints of one run evaluated alike, and which reached the highest accuracy on
/// the evaluated split: the paper's "best checkpoint", which is selected on the test set
/// and is marked so, beside the validation-selected one.
public struct CheckpointComparison: Sendable {
    public var reports: [(label: String, report: EvaluationReport)]
    /// The metric the best ever is chosen on: the recipe's selection metric if evaluated, else
    /// the worst case over the attacks.
    public var metric: String
    public var bestEver: Int?

    public var markdown: String {
        guard let first = reports.first?.report else { return "" }
        let names = first.accuracy.map(\.name) + (first.robustAccuracy != nil && first.attacks.count > 1 ? ["robust"] : [])
        var lines = ["| checkpoint | " + names.joined(separator: " | ") + " |", "|---|" + names.map { _ in "---|" }.joined()]
        for (index, entry) in reports.enumerated() {
            var values = entry.report.accuracy.map(\.value)
            if names.count > values.count { values.append(entry.report.robustAccuracy ?? 0) }
            let mark = index == bestEver ? " (best ever: selected on \(first.split))" : (entry.label == "best" ? " (selected on val)" : "")
            lines.append("| \(entry.label)\(mark) | " + values.map { String(format: "%.2f", 100 * $0) }.joined(separator: " | ") + " |")
        }
        return lines.joined(separator: "\n")
    }
}

/// The checkpoint files of a run folder for `choice`, labelled, in epoch order.
public func runCheckpoints(_ folder: String, _ choice: CheckpointChoice) throws -> [(label: String, path: String)] {
    let files = Set((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [])
    var found = [(String, String)]()
    if choice == .all {
        let epochs = files.compactMap { name -> Int? in
            guard name.hasPrefix("epoch-"), name.hasSuffix(".safetensors") else { return nil }
            return Int(name.dropFirst(6).dropLast(12))
        }.sorted()
        found += epochs.map { ("epoch \($0)", "\(folder)/epoch-\($0).safetensors") }
    }
    for name in [CheckpointChoice.last, .best] where choice == .all || choice == name {
        if files.contains("\(name.rawValue).safetensors") { found.append((name.rawValue, "\(folder)/\(name.rawValue).safetensors")) }
    }
    guard !found.isEmpty else {
        throw TrainingError("\(folder): no \(choice == .all ? "checkpoints" : "\(choice.rawValue).safetensors") to evaluate"
                            + (choice == .all ? " (set eval.keep_every to keep epochs)" : ""))
    }
    return found
}

/// Evaluates `checkpoints` with the same settings and picks the best ever on the evaluated split.
public func compareCheckpoints(_ checkpoints: [(label: String, path: String)], recipe: Recipe,
                               options: EvaluationOptions, stop: StopFlag = StopFlag(),
                               log: (String) -> Void = { _ in }) throws -> CheckpointComparison {
    var reports = [(label: String, report: EvaluationReport)]()
    for (label, path) in checkpoints {
        log("\(label): \(path)")
        reports.append((label, try evaluate(recipe: recipe, checkpoint: path, options: options, stop: stop, log: log)))
    }
    let selection = recipe.eval.select.metric
    let evaluated = reports.first?.report.accuracy.contains { $0.name == selection } ?? false
    let metric = evaluated ? selection : "robust"
    func value(_ report: EvaluationReport) -> Double {
        evaluated ? report.accuracy.first { $0.name == selection }!.value : (report.robustAccuracy ?? report.accuracy[0].value)
    }
    let best = reports.indices.max { value(reports[$0].report) < value(reports[$1].report) }
    return CheckpointComparison(reports: reports, metric: metric, bestEver: best)
}
