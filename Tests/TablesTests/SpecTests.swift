import Foundation
import Recipe
import Tables
import Testing

@Test("a spec reads rows, overrides, a sweep with paper values per value, columns, seeds and checkpoint rules")
func specParses() throws {
    let folder = temporaryFolder("spec")
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let path = try writeTable(in: folder, spec: """
        title: Sweep
        seeds: [3, 4]
        checkpoint: last
        columns: [clean, {name: cw20, title: CW}, aa]
        rows:
          - label: base
            recipe: tiny.yaml
            set: {schedule.epochs: 2, threat.eps: 0.2}
            checkpoint: best-ever
          - label: beta
            recipe: tiny.yaml
            sweep: {loss.params.beta: [1, 3, 6]}
            paper:
              3: {clean: 80.5, aa: 41}
        """)
    let spec = try TableSpec.load(path: path)
    #expect(spec.title == "Sweep")
    #expect(spec.seeds == [3, 4])
    #expect(spec.columns.map(\.kind) == [.clean, .cw20, .aa])
    #expect(spec.columns.map(\.title) == ["clean", "CW", "aa"])
    #expect(spec.rows[0].overrides == ["schedule.epochs=2", "threat.eps=0.2"])
    #expect(spec.rows[0].checkpoint == .bestEver)
    #expect(spec.rows[1].checkpoint == .last, "the table's default")
    #expect(spec.rows[1].sweep?.values == ["1", "3", "6"])
    #expect(spec.rows[1].paper["3"]?[.clean] == 80.5 && spec.rows[1].paper["3"]?[.aa] == 41)
    #expect(spec.rows[1].paper["1"] == nil)
    #expect(spec.displayedRows.map(\.label) == ["base", "beta (beta = 1)", "beta (beta = 3)", "beta (beta = 6)"])
    #expect(spec.runsRoot == "runs/tables/" + ((spec.path as NSString).deletingLastPathComponent as NSString).lastPathComponent,
            "one run store per folder of specs")

    let runs = try spec.runs()
    #expect(runs.count == 2 * 4, "1 + 3 displayed rows × 2 seeds")
    #expect(runs.map(\.seed) == [3, 4, 3, 4, 3, 4, 3, 4])
    #expect(runs[0].recipe.schedule.epochs == 2 && runs[0].recipe.seed == 3)
    #expect(runs[2].recipe.loss.params["beta"] == 1 && runs[6].recipe.loss.params["beta"] == 6)
}

/// Each bad input of the issue, with the `file:line:col` it must name.
@Test("bad specs fail with file:line:col: missing recipe, unknown column, sweep over a missing key, missing surrogate, non-integer seeds")
func badSpecsAreLocated() throws {
    let folder = temporaryFolder("bad-spec")
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let file = folder + "/spec.yaml"
    func expectError(_ spec: String, at location: String, containing text: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) {
        let message = loadError(spec, in: folder)
        #expect(message?.hasPrefix("\(file):\(location): error:") == true, "\(message ?? "no error")", sourceLocation: sourceLocation)
        #expect(message?.contains(text) == true, "\(message ?? "no error")", sourceLocation: sourceLocation)
    }
    expectError("""
        seeds: [0]
        columns: [clean]
        rows:
          - {label: a, recipe: missing.yaml}
        """, at: "4:24", containing: "no recipe at")
    expectError("""
        seeds: [0]
        columns: [clean, pgd-20]
        rows:
          - {label: a, recipe: tiny.yaml}
        """, at: "2:18", containing: "unknown column 'pgd-20' — did you mean 'pgd20'?")
    expectError("""
        seeds: [0]
        columns: [clean]
        rows:
          - label: a
            recipe: tiny.yaml
            sweep: {loss.params.eta: [0.1, 0.2]}
        """, at: "6:13", containing: "the sweep key 'loss.params.eta' is not a key of the resolved recipe")
    expectError("""
        seeds: [0]
        columns: [clean, {name: transfer-cw20, surrogate: TRADE}]
        rows:
          - {label: TRADES, recipe: tiny.yaml}
        """, at: "2:51", containing: "surrogate row 'TRADE' does not exist — did you mean 'TRADES'?")
    expectError("""
        seeds: [0, 1.5]
        columns: [clean]
        rows:
          - {label: a, recipe: tiny.yaml}
        """, at: "1:12", containing: "a seed must be an integer")
    expectError("""
        seeds: ["7"]
        columns: [clean]
        rows:
          - {label: a, recipe: tiny.yaml}
        """, at: "1:9", containing: "a seed must be an integer")
    // An override the recipe refuses is told at the spec's key, not at a `--set` nobody typed.
    expectError("""
        seeds: [0]
        columns: [clean]
        rows:
          - label: a
            recipe: tiny.yaml
            set: {schedule.epochs: many}
        """, at: "6:11", containing: "row 'a'")
    expectError("""
        seeds: [0]
        columns: [clean, transfer-pgd20]
        rows:
          - {label: a, recipe: tiny.yaml}
        """, at: "2:18", containing: "needs a surrogate row")
    expectError("""
        seeds: [0]
        columns: [clean]
        rows:
          - {label: a, recipe: tiny.yaml, paper: {clena: 3}}
        """, at: "4:43", containing: "unknown column 'clena' in 'paper'")
}

@Test("the paper's six tables load and list every run with its settings")
func paperTablesPlan() throws {
    let folder = repositoryRoot + "/tables/paper"
    let files = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".yaml") }.sorted()
    #expect(files == (1...6).map { "table\($0).yaml" })
    var counts = [String: Int]()
    for file in files {
        let spec = try TableSpec.load(path: folder + "/" + file)
        let runs = try spec.runs()
        counts[file] = runs.count
        #expect(Set(runs.map(\.folder)).count == runs.count || file == "table6.yaml", "one folder per run")
        for run in runs {
            let recipe = run.recipe
            #expect(recipe.schedule.epochs == 200 && recipe.schedule.batch == 128 && recipe.threat.steps == 10)
            #expect(recipe.optim.lr == (recipe.data.name == "svhn" ? 0.01 : 0.1))
            #expect(run.folder.contains(String(run.hash.prefix(12))))
        }
    }
    #expect(counts["table1.yaml"] == 2 * 5 * 3)
    #expect(counts["table2.yaml"] == 14 * 3)   // TRADES/AWP ± terms on CIFAR-10 and -100, MART, weight noise
    #expect(counts["table3.yaml"] == 6 * 3)
    #expect(counts["table4.yaml"] == 9 * 3)
    #expect(counts["table5.yaml"] == 8 * 3)
    #expect(counts["table6.yaml"] == 3)
    let table5 = try TableSpec.load(path: folder + "/table5.yaml").runs()
    #expect(Set(table5.map(\.recipe.model.name)) == ["vgg16", "mobilenet-v2"])
    let table3 = try TableSpec.load(path: folder + "/table3.yaml").runs()
    #expect(table3.allSatisfy { $0.recipe.threat.norm == .l2 })
}

@Test("a spec checks every resolved recipe as rat check does: errors refuse it at the override, warnings are kept once per row")
func specRunsTheRecipeChecks() throws {
    let folder = temporaryFolder("checks")
    defer { try? FileManager.default.removeItem(atPath: folder) }
    // threat.step > threat.eps is an error of `rat check`; it comes from the row's `set`.
    func settingAlso(_ extra: String) -> String {
        tinySpec().replacingOccurrences(of: "set: {loss.params.beta: 1}", with: "set: {loss.params.beta: 1, \(extra)}")
    }
    let bad = loadError(settingAlso("threat.step: 0.5"), in: folder)
    #expect(bad?.contains("spec.yaml:") == true && bad?.contains("row 'TRADES beta 1'") == true
            && bad?.contains("larger than ε") == true, "\(bad ?? "loaded")")
    // sync_bn on an MLP (no BatchNorm) is a warning: the spec loads and carries it, once.
    let warned = try TableSpec.load(path: try writeTable(in: folder, spec: settingAlso("distributed.sync_bn: true")))
    let syncBN = warned.warnings.filter { $0.contains("sync_bn") }
    #expect(syncBN.count == 1 && syncBN[0].contains("spec.yaml:11:") && syncBN[0].contains(": warning: row 'TRADES beta 1': "),
            "\(warned.warnings)")
    // A warning of the shared recipe (the tiny recipe evaluates 50 images) is told once for both rows.
    let examples = warned.warnings.filter { $0.contains("first 50 images") }
    #expect(examples.count == 1 && examples[0].contains("tiny.yaml:") && examples[0].contains("rows 'TRADES', 'TRADES beta 1'"),
            "\(warned.warnings)")
    #expect(try TableSpec.load(path: try writeTable(in: folder)).warnings.count == 1, "the tiny spec has only the examples warning")
}
