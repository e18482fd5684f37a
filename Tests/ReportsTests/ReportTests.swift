import Foundation
import Plots
import Reports
import Testing

/// Tiny runs are trained once per suite run and shared (each takes seconds).
let sharedRuns = Result { () throws -> (folder: String, run: String, other: String) in
    let folder = temporaryFolder("runs")
    return (folder, try tinyRun(in: folder), try tinyRun(in: folder, name: "other", epochs: 1, extra: ["loss.params.eta=0"]))
}

@Test("rat report RUN writes RUN/report.html: well-formed, its curves plot the metrics, its evaluation and recipe shown")
func reportOfRun() throws {
    let (_, run, _) = try sharedRuns.get()
    #expect(rat(["report", run]) == 0)
    let page = run + "/report.html"
    #expect(exists(page))
    #expect(try wellFormed(file: page) != false)
    let html = try read(page)
    // Self-contained: nothing fetched, nothing run.
    #expect(!html.contains("<script") && !html.contains("src=\"http") && !html.contains("href=\"http"))
    #expect(html.contains("fgsm") && html.contains("eval/test-"))
    #expect(html.contains("taylor2") && html.contains("fnv1a64:"))

    // The validation curve's markers are at the metrics' values (read back from metrics.jsonl here).
    let folder = try RunFolder(URL(fileURLWithPath: run))
    let lines = try read(run + "/metrics.jsonl").split(separator: "\n")
    #expect(folder.epochs.count == 2 && lines.count == 2)
    let clean = try lines.map { line -> Double in
        let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
        return ((object["val"] as! [String: Any])["clean"] as! NSNumber).doubleValue
    }
    let panels = curvePanels([folder], labels: [folder.name])
    let accuracy = try #require(panels.first { $0.title == "Validation accuracy" })
    for (epoch, value) in clean.enumerated() {
        let (x, y) = try #require(accuracy.frame.position(Double(epoch + 1), 100 * value))
        #expect(html.contains(String(format: "cx=\"%.2f\" cy=\"%.2f\"", x, y)), "epoch \(epoch + 1)'s marker")
    }
    // The weighted panel's total is the metrics' total.
    let weighted = try #require(panels.first { $0.title.hasPrefix("Loss terms × weight") })
    let total = try #require(weighted.series.first { $0.name == "total" })
    #expect(total.points.map(\.y) == folder.epochs.map { $0.loss["total"]! })
}

@Test("a NaN metric draws a gap and a red note; the page stays well-formed")
func nanMetric() throws {
    let (folder, run, _) = try sharedRuns.get()
    let copy = folder + "/nan-run"
    try FileManager.default.createDirectory(atPath: copy, withIntermediateDirectories: true)
    try FileManager.default.copyItem(atPath: run + "/recipe.yaml", toPath: copy + "/recipe.yaml")
    let metrics = """
    {"epoch":1,"loss":{"natural":2.1,"robust":0.03,"taylor1":0.001,"taylor2":0.0005,"total":2.3},"lr":0.1,"samples_per_second":50,"seconds":10,"val":{"clean":0.3}}
    {"epoch":2,"loss":{"natural":NaN,"robust":0.02,"taylor1":0.001,"taylor2":0.0004,"total":NaN},"lr":0.05,"samples_per_second":50,"seconds":10,"val":{"clean":0.4}}
    {"epoch":3,"loss":{"natural":1.5,"robust":0.02,"taylor1":0.001,"taylor2":0.0003,"total":1.7},"lr":0.01,"samples_per_second":50,"seconds":10,"val":{"clean":0.5}}

    """
    try Data(metrics.utf8).write(to: URL(fileURLWithPath: copy + "/metrics.jsonl"))
    #expect(rat(["report", copy]) == 0)
    #expect(try wellFormed(file: copy + "/report.html") != false)
    let html = try read(copy + "/report.html")
    #expect(html.contains("natural: no value at epoch 2"))
    #expect(html.contains("total: no value at epoch 2"))
    let folderRead = try RunFolder(URL(fileURLWithPath: copy))
    #expect(folderRead.epochs.count == 3 && folderRead.epochs[1].loss["natural"]!.isNaN)
}

@Test("bad input: no such folder, not a run, a run without metrics (a page saying so) exit non-zero")
func badInput() throws {
    let folder = temporaryFolder("bad")
    defer { try? FileManager.default.removeItem(atPath: folder) }
    #expect(rat(["report", folder + "/absent"]) == 1)
    #expect(rat(["report", folder]) == 1)
    #expect(!exists(folder + "/report.html"))
    #expect(throws: ReportError.self) { try writeReport(run: URL(fileURLWithPath: folder)) }

    let (_, run, _) = try sharedRuns.get()
    let fresh = folder + "/fresh"
    try FileManager.default.createDirectory(atPath: fresh, withIntermediateDirectories: true)
    try FileManager.default.copyItem(atPath: run + "/recipe.yaml", toPath: fresh + "/recipe.yaml")
    #expect(rat(["report", fresh]) == 1)
    let html = try read(fresh + "/report.html")
    #expect(html.contains("No metrics yet"))
    #expect(try wellFormed(file: fresh + "/report.html") != false)
    // Several runs need a named page.
    #expect(rat(["report", run, run]) == 1)
}

@Test("a comparison page names the settings where the recipes differ and warns about different datasets")
func comparison() throws {
    let (folder, run, other) = try sharedRuns.get()
    let page = folder + "/compare.html"
    #expect(rat(["report", run, other, "--output", page]) == 0)
    #expect(try wellFormed(file: page) != false)
    let html = try read(page)
    #expect(html.contains("loss.params.eta") && html.contains("schedule.epochs"))
    #expect(!html.contains("<th><code>output</code></th>"))
    #expect(!html.contains("different datasets"))

    // The same run under another dataset name: allowed, with a warning on the page.
    let renamed = folder + "/renamed"
    try FileManager.default.createDirectory(atPath: renamed, withIntermediateDirectories: true)
    let recipe = try read(run + "/recipe.yaml").replacingOccurrences(of: #"data:\n  name: (\S+)"#, with: "data:\n  name: $1-two",
                                                                      options: .regularExpression)
    #expect(recipe != (try read(run + "/recipe.yaml")))
    try Data(recipe.utf8).write(to: URL(fileURLWithPath: renamed + "/recipe.yaml"))
    try FileManager.default.copyItem(atPath: run + "/metrics.jsonl", toPath: renamed + "/metrics.jsonl")
    let outcome = try writeReport(runs: [URL(fileURLWithPath: run), URL(fileURLWithPath: renamed)],
                                  to: URL(fileURLWithPath: folder + "/datasets.html"))
    #expect(outcome.warnings.contains { $0.contains("different datasets") })
    #expect(try read(folder + "/datasets.html").contains("different datasets"))
}
