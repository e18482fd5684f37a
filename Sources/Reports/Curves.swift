import Foundation
import Plots

/// A family of per-epoch curves: the keys it has in a run and each key's value at an epoch
/// (nil: not recorded that epoch, no point; NaN: recorded but not a number, a gap and a note).
struct CurveFamily: Sendable {
    var title: String
    var yLabel: String
    var logarithmic: Bool
    var keys: @Sendable (RunFolder) -> [String]
    var value: @Sendable (RunFolder, EpochMetrics, String) -> Double?
}

/// Term names in the recipe's order, then any other the metrics hold (an older recipe's).
func termNames(_ run: RunFolder) -> [String] {
    var names = run.recipe.loss.terms.map(\.name)
    for epoch in run.epochs { for key in epoch.loss.keys.sorted() where key != "total" && !names.contains(key) { names.append(key) } }
    return names
}

let curveFamilies: [CurveFamily] = [
    CurveFamily(title: "Loss terms, unweighted", yLabel: "loss (nats)", logarithmic: true,
                keys: termNames, value: { _, epoch, key in epoch.loss[key] }),
    CurveFamily(title: "Loss terms × weight, and total", yLabel: "weighted loss (nats)", logarithmic: true,
                keys: { termNames($0) + ["total"] },
                value: { run, epoch, key in
                    if key == "total" { return epoch.loss["total"] }
                    guard let term = run.recipe.loss.terms.first(where: { $0.name == key }), let value = epoch.loss[key] else { return nil }
                    return run.recipe.loss.weight(of: term) * value
                }),
    CurveFamily(title: "Validation accuracy", yLabel: "accuracy (%)", logarithmic: false,
                keys: { run in Array(Set(run.epochs.flatMap(\.validation.keys))).sorted { ($0 == "clean" ? "" : $0) < ($1 == "clean" ? "" : $1) } },
                value: { _, epoch, key in epoch.validation[key].map { 100 * $0 } }),
    CurveFamily(title: "Learning rate", yLabel: "learning rate", logarithmic: false,
                keys: { _ in ["lr"] }, value: { _, epoch, _ in epoch.learningRate }),
    CurveFamily(title: "Step time", yLabel: "time per step (ms)", logarithmic: false,
                keys: { _ in ["step time"] },
                value: { run, epoch, _ in 1000 * Double(run.recipe.schedule.batch) / epoch.samplesPerSecond }),
]

/// The curves of one run (a panel per family, a line per key) or of several (a panel per
/// family and key, a line per run in the run's colour, labelled by `labels`).
public func curvePanels(_ runs: [RunFolder], labels: [String]) -> [LinePlot] {
    var panels = [LinePlot]()
    for family in curveFamilies {
        if runs.count == 1 {
            let run = runs[0]
            let series = family.keys(run).enumerated().map { index, key in
                Series(name: key, points: run.epochs.compactMap { e in family.value(run, e, key).map { (Double(e.epoch), $0) } },
                       style: index)
            }
            if let panel = plot(family.title, family, series) { panels.append(panel) }
        } else {
            var keys = [String]()
            for run in runs { for key in family.keys(run) where !keys.contains(key) { keys.append(key) } }
            // Weighted terms would repeat the unweighted panels run by run: only their total.
            if family.title.hasPrefix("Loss terms ×") { keys = ["total"] }
            for key in keys {
                let series = runs.enumerated().map { index, run in
                    Series(name: labels[index], points: run.epochs.compactMap { e in
                        family.value(run, e, key).map { (Double(e.epoch), $0) } }, style: index)
                }
                let title = family.keys(runs[0]).count > 1 || keys.count > 1 ? "\(family.title): \(key)" : family.title
                if let panel = plot(title, family, series) { panels.append(panel) }
            }
        }
    }
    return panels
}

private func plot(_ title: String, _ family: CurveFamily, _ series: [Series]) -> LinePlot? {
    let points = series.flatMap(\.points)
    guard !points.isEmpty else { return nil }
    let ys = points.map(\.y).filter(\.isFinite)
    let positive = ys.filter { $0 > 0 }
    // Log scale only where values span more than a decade (loss terms of very different sizes).
    let logarithmic = family.logarithmic && !positive.isEmpty && (positive.max()! / positive.min()! > 20)
    let x = Axis.counting(points.map(\.x), label: "epoch")
    let y = Axis.fitting(ys, label: family.yLabel, logarithmic: logarithmic, includeZero: family.yLabel.hasPrefix("learning"))
    return LinePlot(title: title + (logarithmic ? " (log scale)" : ""), x: x, y: y, series: series)
}
