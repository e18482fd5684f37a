import Foundation
import Plots
import Recipe

/// The file `rat report RUN` writes inside the run folder; other pages (the results table)
/// link to `<run folder>/report.html`.
public let reportFileName = "report.html"

/// What writing a report produced: the page, and warnings to print beside it.
public struct ReportOutcome: Sendable {
    public var page: URL
    public var warnings: [String]
    /// False when nothing could be drawn (no metrics, no evaluations in any run).
    public var drewSomething: Bool
    /// The training curves as drawn on the page (nil: no metrics), to save as an SVG file too.
    public var curves: Figure?
}

/// Writes `run/report.html` for one run folder and returns its URL: the seam for other
/// pages and for the lead's scripts. Errors: not a run folder, a recipe that does not load.
public func writeReport(run: URL) throws -> URL {
    try writeReport(runs: [run], to: run.appendingPathComponent(reportFileName)).page
}

/// One self-contained HTML page (inline SVG and CSS; no scripts, no network) for one run, or
/// a comparison of several on shared axes and colours, written to `output`.
public func writeReport(runs urls: [URL], to output: URL) throws -> ReportOutcome {
    precondition(!urls.isEmpty, "a report needs at least one run")
    let runs = try urls.map(RunFolder.init)
    var warnings = [String]()
    let datasets = Set(runs.map(\.recipe.data.name))
    if datasets.count > 1 {
        warnings.append("the runs were trained on different datasets (\(runs.map { "\($0.name): \($0.recipe.data.name)" }.joined(separator: ", "))): "
                        + "their numbers are not comparable")
    }
    for run in runs {
        if run.epochs.isEmpty {
            warnings.append("\(run.url.path): no metrics yet (\(run.hasMetricsFile ? "metrics.jsonl is empty" : "no metrics.jsonl")): "
                            + "no epoch has finished")
        }
        warnings += run.unreadableLines.map { "\(run.url.path)/\($0)" }
    }
    let differences = try distinguishingSettings(runs)
    let labels = runs.enumerated().map { index, run in
        let settings = differences.map { "\($0.path)=\($0.values[index] ?? "(absent)")" }
        // The settings in the legend when they are short; the table above the curves has them all.
        let label = run.name + " (" + settings.joined(separator: ", ") + ")"
        return runs.count == 1 || settings.isEmpty || label.count > 48 ? run.name : label
    }
    let panels = curvePanels(runs, labels: labels)
    let curves = Figure(panels: panels, columns: 3)
    let drew = !panels.isEmpty || runs.contains { !$0.evaluations.isEmpty }

    var html = """
    <!DOCTYPE html>
    <html xmlns="http://www.w3.org/1999/xhtml" lang="en"><head><meta charset="utf-8"/>
    <title>\(xmlEscaped(runs.count == 1 ? "rat report: \(runs[0].name)" : "rat comparison: \(runs.map(\.name).joined(separator: ", "))"))</title>
    <style>\(css)</style></head><body>
    <h1>\(xmlEscaped(runs.count == 1 ? "Run \(runs[0].name)" : "Comparison of \(runs.count) runs"))</h1>
    <p class="meta">\(runs.map { "<code>\(xmlEscaped($0.url.standardizedFileURL.path))</code>" }.joined(separator: "<br/>"))</p>\n
    """
    for warning in warnings { html += "<p class=\"warning\">⚠ \(xmlEscaped(warning))</p>\n" }
    if runs.count > 1 {
        html += "<h2>Runs and the settings where their recipes differ</h2>\n<table><tr><th>run</th>"
            + differences.map { "<th><code>\(xmlEscaped($0.path))</code></th>" }.joined() + "</tr>\n"
        for (index, run) in runs.enumerated() {
            html += "<tr><td><span class=\"swatch\" style=\"background:\(Style.colour(index))\"></span>\(xmlEscaped(run.name))</td>"
                + differences.map { "<td>\(xmlEscaped($0.values[index] ?? "(absent)"))</td>" }.joined() + "</tr>\n"
        }
        html += "</table>\n"
        if differences.isEmpty { html += "<p>The resolved recipes agree on every key but <code>output</code>.</p>\n" }
    }
    html += "<h2>Training curves</h2>\n"
    if panels.isEmpty {
        html += "<p class=\"warning\">No metrics yet: no epoch has finished in \(runs.count == 1 ? "this run" : "these runs"), so there is no curve to draw.</p>\n"
    } else {
        html += "<p>Per epoch, from <code>metrics.jsonl</code>: loss terms are means over the epoch's steps; "
            + "validation accuracy is measured at the epoch's end on the validation split; step time is "
            + "1000 × batch ÷ samples per second.</p>\n"
        html += "<div class=\"figure\">" + curves.svgElement + "</div>\n"
    }
    html += "<h2>Evaluations</h2>\n"
    for (index, run) in runs.enumerated() {
        if runs.count > 1 { html += "<h3>\(xmlEscaped(labels[index]))</h3>\n" }
        html += evaluationSection(run)
    }
    html += "<h2>Provenance</h2>\n"
    for run in runs { html += provenanceSection(run, showName: runs.count > 1) }
    html += "<h2>Resolved recipe\(runs.count > 1 ? "s" : "")</h2>\n"
    for run in runs {
        html += "<details\(runs.count == 1 ? " open=\"open\"" : "")><summary><code>\(xmlEscaped(run.name))/recipe.yaml</code></summary>"
            + "<pre>\(xmlEscaped(run.recipeText))</pre></details>\n"
    }
    html += "<p class=\"meta\">Written by <code>rat report</code>. Colours: Okabe–Ito palette (colour-blind safe).</p>\n</body></html>\n"
    try FileManager.default.createDirectory(at: output.deletingLastPathComponent(), withIntermediateDirectories: true)
    try Data(html.utf8).write(to: output, options: .atomic)
    return ReportOutcome(page: output, warnings: warnings, drewSomething: drew, curves: panels.isEmpty ? nil : curves)
}

/// The keys where the runs' resolved recipes differ (the output folder aside), each with
/// every run's value (nil where a run's recipe has no such key).
func distinguishingSettings(_ runs: [RunFolder]) throws -> [(path: String, values: [String?])] {
    guard runs.count > 1 else { return [] }
    // Every leaf of a recipe: its differences from an empty document.
    let settings = try runs.map { run in
        Dictionary(try recipeDifferences(old: "{}", new: run.recipeText).compactMap { d in d.new.map { (d.path, $0) } },
                   uniquingKeysWith: { a, _ in a })
    }
    // A list item's leaves are one setting (`loss.terms.2`: "kind=kl, name=taylor1, …"), so
    // that a term one recipe lacks is one column, not one per key.
    let grouped = settings.map { leaves -> [String: String] in
        var items = [String: [(String, String)]]()
        for (path, value) in leaves {
            let parts = path.split(separator: ".").map(String.init)
            guard let index = parts.firstIndex(where: { Int($0) != nil }), index < parts.count - 1 else {
                items[path, default: []].append(("", value))
                continue
            }
            items[parts[...index].joined(separator: "."), default: []].append((parts[(index + 1)...].joined(separator: "."), value))
        }
        return items.mapValues { entries in
            entries.sorted { $0.0 < $1.0 }.map { $0.0.isEmpty ? $0.1 : "\($0.0)=\($0.1)" }.joined(separator: ", ")
        }
    }
    let paths = Set(grouped.flatMap(\.keys)).subtracting(["", "output"]).sorted()
    return paths.compactMap { path in
        let values = grouped.map { $0[path] }
        return Set(values.map { $0 ?? "\u{0}" }).count > 1 ? (path, values) : nil
    }
}

func percent(_ value: Double?) -> String { value.map { String(format: "%.1f %%", 100 * $0) } ?? "–" }

func evaluationSection(_ run: RunFolder) -> String {
    guard !run.evaluations.isEmpty else {
        return "<p>No stored evaluation (<code>rat eval \(xmlEscaped(run.url.path))</code> writes one into <code>eval/</code>).</p>\n"
    }
    var html = ""
    for e in run.evaluations {
        html += "<p><code>\(xmlEscaped(e.file))</code>: <code>\(xmlEscaped(e.checkpoint))</code> (\(xmlEscaped(e.checkpointHash))) "
            + "on the first \(e.examples) images of <b>\(xmlEscaped(e.split))</b>"
            + (e.transferFrom.map { ", attacks transferred from <code>\(xmlEscaped($0))</code>" } ?? "") + "</p>\n"
        html += "<table><tr><th>clean</th>" + e.attacks.map { "<th>\(xmlEscaped($0.name))</th>" }.joined()
            + (e.robust != nil && e.attacks.count > 1 ? "<th>robust to all</th>" : "") + "</tr>\n"
        html += "<tr><td>\(percent(e.clean))</td>" + e.attacks.map { "<td>\(percent($0.accuracy))</td>" }.joined()
            + (e.robust != nil && e.attacks.count > 1 ? "<td>\(percent(e.robust))</td>" : "") + "</tr>\n"
        html += "<tr class=\"meta\"><td>no attack</td>" + e.attacks.map { "<td>\(xmlEscaped($0.kind)), ε = \(xmlEscaped($0.eps))</td>" }.joined()
            + (e.robust != nil && e.attacks.count > 1 ? "<td>worst case per image</td>" : "") + "</tr></table>\n"
        if e.flags.isEmpty {
            html += "<p class=\"ok\">No gradient-masking flag raised.</p>\n"
        }
        for flag in e.flags {
            html += "<p class=\"flag\">⚑ gradient-masking flag <b>\(xmlEscaped(flag.name))</b>: \(xmlEscaped(flag.message))</p>\n"
        }
    }
    return html
}

func provenanceSection(_ run: RunFolder, showName: Bool) -> String {
    var html = showName ? "<h3>\(xmlEscaped(run.name))</h3>\n" : ""
    html += "<table><tr><th>checkpoint</th><th>bytes</th><th>FNV-1a 64</th></tr>\n"
    for c in run.checkpoints {
        html += "<tr><td><code>\(xmlEscaped(c.name))</code></td><td>\(c.bytes)</td><td><code>\(xmlEscaped(c.hash))</code></td></tr>\n"
    }
    html += "</table>\n"
    let commits = Set(run.evaluations.map(\.gitCommit)).sorted()
    html += "<p>rat commit of the evaluations: "
        + (commits.isEmpty ? "none stored" : commits.map { "<code>\(xmlEscaped($0))</code>" }.joined(separator: ", "))
        + ". Training does not record its commit; the recipe below is the one it ran (fully resolved).</p>\n"
    return html
}

let css = """
body{font-family:"DejaVu Sans",Helvetica,Arial,sans-serif;max-width:1120px;margin:1.5em auto;padding:0 1em;color:#222;line-height:1.4}
h1{font-size:1.5em}h2{font-size:1.2em;border-bottom:1px solid #ccc;margin-top:1.6em}h3{font-size:1em}
table{border-collapse:collapse;margin:.4em 0}td,th{border:1px solid #ccc;padding:.2em .6em;text-align:left}
tr.meta td{color:#666;font-size:.85em}.meta{color:#666;font-size:.9em}
.warning,.flag{color:#b2182b;font-weight:bold}.ok{color:#1b7837}
pre{background:#f6f6f6;padding:.6em;font-size:.85em;overflow-x:auto}
.swatch{display:inline-block;width:.9em;height:.9em;margin-right:.4em;vertical-align:-.1em}
.figure svg{max-width:100%;height:auto}
"""
