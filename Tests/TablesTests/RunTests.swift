import Foundation
import Recipe
import Tables
import Testing
import Training

@Test("run folders are named from the resolved recipe's hash and seed: equal specs share them, any change makes new ones")
func runFolderNaming() throws {
    let folder = temporaryFolder("naming")
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let spec = try TableSpec.load(path: try writeTable(in: folder))
    let runs = try spec.runs(runsRoot: folder + "/runs")
    #expect(runs.count == 4)
    #expect(Set(runs.map(\.folder)).count == 4 && Set(runs.map(\.hash)).count == 4)
    for run in runs {
        #expect(run.folder == "\(folder)/runs/tiny-s\(run.seed)-\(run.hash.prefix(12))")
        #expect(run.recipe.output == run.folder && run.recipe.seed == run.seed)
    }
    // Reloading gives the same folders; a changed override gives new ones for that row only.
    let again = try TableSpec.load(path: try writeTable(in: folder)).runs(runsRoot: folder + "/runs")
    #expect(again.map(\.folder) == runs.map(\.folder))
    let changed = try TableSpec.load(path: try writeTable(in: folder, spec: tinySpec().replacingOccurrences(
        of: "loss.params.beta: 1", with: "loss.params.beta: 2"))).runs(runsRoot: folder + "/runs")
    #expect(changed[0].folder == runs[0].folder && changed[1].folder == runs[1].folder)
    #expect(changed[2].folder != runs[2].folder && changed[3].folder != runs[3].folder)
}

@Test("a run folder whose recipe.yaml differs from the spec's is refused with the difference, and left untouched")
func conflictingFolderIsRefused() throws {
    let folder = temporaryFolder("conflict")
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let spec = try TableSpec.load(path: try writeTable(in: folder))
    let runner = try TableRunner(spec: spec, runsRoot: folder + "/runs")
    let run = runner.runs[0]
    try FileManager.default.createDirectory(atPath: run.folder, withIntermediateDirectories: true)
    let edited = renderYAML(run.recipe).replacingOccurrences(of: "lr: 0.05", with: "lr: 0.5")
    #expect(edited != renderYAML(run.recipe))
    try edited.write(toFile: run.folder + "/recipe.yaml", atomically: true, encoding: .utf8)
    guard case .conflict(let differences) = try run.state() else {
        Issue.record("expected a conflict")
        return
    }
    #expect(differences.map(\.path) == ["optim.lr"])
    #expect(throws: TableError.self) { try runner.runOne(0) }
    do { _ = try runner.runOne(0) } catch { #expect("\(error)".contains("optim.lr: 0.5 → 0.05")) }
    #expect(try String(contentsOfFile: run.folder + "/recipe.yaml", encoding: .utf8) == edited)
    #expect(!exists(run.folder + "/last.safetensors"))
}

@Test("table run trains and evaluates a 2 × 2 table, a second run does nothing, render shows mean ± std, paper and provenance")
func runTwiceThenRender() throws {
    let folder = temporaryFolder("run")
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let spec = try TableSpec.load(path: try writeTable(in: folder))
    let root = folder + "/runs"

    // Stopped before its first step: a resumable checkpoint, continued by the next runner.
    let stop = StopFlag()
    stop.request()
    #expect(try TableRunner(spec: spec, runsRoot: root, stop: stop).runOne(0) == .stopped)
    #expect(try TableRunner(spec: spec, runsRoot: root).runs[0].state() == .resumable(epochsDone: 0))

    let runner = try TableRunner(spec: spec, runsRoot: root)
    #expect(try runner.order() == [0, 1, 2, 3], "the surrogate row (TRADES) first")
    for index in try runner.order() {
        let outcome = try runner.runOne(index)
        #expect(outcome == .finished(trained: true, evaluated: 2), "white-box and transfer cells of run \(index)")
    }
    for run in runner.runs { #expect(try run.state() == .trained) }
    let stamps = try runner.runs.map { try FileManager.default.attributesOfItem(atPath: $0.folder + "/last.safetensors")[.modificationDate] as? Date }

    // Nothing is redone: no training, no evaluation, no checkpoint rewritten.
    let rerun = try TableRunner(spec: spec, runsRoot: root)
    for index in rerun.runs.indices { #expect(try rerun.runOne(index) == .finished(trained: false, evaluated: 0)) }
    #expect(try rerun.runAll().isEmpty)
    #expect(try rerun.runs.map { try FileManager.default.attributesOfItem(atPath: $0.folder + "/last.safetensors")[.modificationDate] as? Date } == stamps)

    let results = try TableResults(spec: spec, runsRoot: root)
    #expect(results.rows.map(\.label) == ["TRADES", "TRADES beta 1"])
    for row in results.rows {
        for (column, cell) in zip(spec.columns, row.cells) {
            #expect(cell.count == 2, "\(row.label) \(column.title): both seeds")
            let values = cell.sources.map(\.value)
            let mean = values.reduce(0, +) / 2
            #expect(abs(cell.mean! - mean) < 1e-12)
            #expect(abs(cell.std! - abs(values[0] - values[1]) / 2.0.squareRoot()) < 1e-9)
            if column.kind.isAccuracy {
                #expect(values.allSatisfy { $0 >= 0 && $0 <= 100 })
                // Accuracies are counts out of the 40 evaluated images.
                #expect(values.allSatisfy { abs(($0 / 2.5).rounded() - $0 / 2.5) < 1e-9 })
            } else {
                #expect(values.allSatisfy { $0 > 0 })
            }
        }
    }
    // Transfer from the row's own model on the same seed equals no weaker attack than... a real number per seed.
    let clean = results.rows[0].cells[0], pgd = results.rows[0].cells[1]
    #expect(pgd.mean! <= clean.mean!, "robust accuracy counts only clean-correct points")
    #expect(clean.paper == 70.5 && abs(clean.difference! - (clean.mean! - 70.5)) < 1e-12)
    #expect(results.rows[1].cells[0].paper == nil)

    // Bold: the best mean per column (lowest for time and memory).
    for (index, column) in spec.columns.enumerated() {
        let means = results.rows.map { $0.cells[index].mean! }
        let best = column.kind.higherIsBetter ? means.max()! : means.min()!
        for row in results.rows { #expect(row.cells[index].best == (row.cells[index].mean == best)) }
    }

    let markdown = results.render(.md)
    let cleanText = String(format: "%.2f ± %.2f", clean.mean!, clean.std!)
    #expect(markdown.contains(cleanText))
    #expect(markdown.contains(String(format: "[paper 70.50, %@%.2f]", clean.difference! >= 0 ? "+" : "−", abs(clean.difference!))))
    #expect(markdown.contains("**"))
    #expect(markdown.components(separatedBy: "\n").filter { $0.hasPrefix("| TRADES") }.count == 2)
    let csv = results.render(.csv).split(separator: "\n")
    #expect(csv.count == 3)
    #expect(csv[0].hasPrefix("row,clean mean,clean std,clean seeds,clean paper,clean difference,clean best"))
    #expect(csv[1].hasPrefix("TRADES," + String(format: "%.4f,%.4f,2,70.5000", clean.mean!, clean.std!)))
    let tex = results.render(.tex)
    #expect(tex.contains("\\textbf{") && tex.contains("$\\pm$") && tex.contains("\\begin{tabular}{lrrrrr}"))
    let html = results.render(.html, linkBase: folder)
    #expect(html.contains("<a href=\"runs/tiny-s0-") && html.contains("/report.html\">"))
    #expect(html.contains("<b>"))

    // Provenance: every cell names its run folders, checkpoint hashes and existing eval JSON files.
    let provenance = try JSONSerialization.jsonObject(with: Data(results.provenanceJSON.utf8)) as! [String: Any]
    let cells = provenance["cells"] as! [[String: Any]]
    #expect(cells.count == 2 * spec.columns.count)
    for cell in cells where ["clean", "pgd20", "transfer-pgd20"].contains(cell["column"] as! String) {
        let sources = cell["sources"] as! [[String: Any]]
        #expect(sources.count == 2)
        for source in sources {
            #expect(exists(source["run_folder"] as! String))
            #expect((source["checkpoint_hash"] as! String).hasPrefix("fnv1a64:"))
            let files = source["eval_json"] as! [String]
            #expect(!files.isEmpty && files.allSatisfy(exists))
        }
    }
}

@Test("plan's cost of a small run comes from a measured step, per epoch and in total")
func costOfTinyRun() throws {
    let folder = temporaryFolder("cost")
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let spec = try TableSpec.load(path: try writeTable(in: folder))
    let runs = try spec.runs(runsRoot: folder + "/runs")
    let cost = try CostEstimator().cost(of: runs[0], spec: spec)
    #expect(cost.method == "measured step")
    #expect(cost.stepsPerEpoch == 10_000 / 100, "the embedded subset has its own val split: all 10,000 train images")
    #expect(cost.stepGFLOP > 0 && cost.secondsPerStep > 0 && cost.evaluationSeconds > 0)
    #expect(abs(cost.cpuHoursTotal - cost.totalSeconds * Double(cost.cores) / 3600) < 1e-12)
    #expect(cost.totalSeconds > Double(cost.stepsPerEpoch) * cost.secondsPerStep)
}
