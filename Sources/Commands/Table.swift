import ArgumentParser
import Collective
import Foundation
import Recipe
import Tables
import Training

extension TableFormat: ExpressibleByArgument {}

/// `rat table plan|run|render`: reproduce a paper table from a table spec (docs/tables.md).
struct TableCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "table",
        abstract: "Reproduce a table: plan its runs and their cost, run what is missing, render it beside the paper's numbers.",
        subcommands: [TablePlanCommand.self, TableRunCommand.self, TableRenderCommand.self])
}

/// Loads a spec; a bad one prints its `file:line:col: error: …` and exits 1.
func loadTableSpec(_ path: String) throws -> TableSpec {
    do {
        let spec = try TableSpec.load(path: path)
        // Under mpirun every rank loads the spec; one copy of each warning is enough.
        if (Launch.launcherRank ?? 0) == 0 { for warning in spec.warnings { printError(warning) } }
        return spec
    } catch {
        printError("\(error)")
        throw ExitCode(1)
    }
}

struct TablePlanCommand: ParsableCommand, BLASSettingsCommand {
    var blasCoretype: String { "Haswell" }
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Every run of the tables: its settings, resolved recipe hash, whether it exists, and its cost on this machine.")

    @Argument(help: "Table specs (YAML).") var tables: [String]
    @Option(help: "Root of the run folders (default: the spec's 'runs').") var runs: String?
    @Flag(name: .customLong("no-cost"), help: "List the runs without estimating their cost.") var noCost = false

    func run() throws {
        let estimator = CostEstimator()
        var failed = false
        for path in tables {
            // A bad table is reported and the others are still planned.
            let spec: TableSpec
            do { spec = try loadTableSpec(path) } catch {
                failed = true
                continue
            }
            do {
                let runner = try TableRunner(spec: spec, runsRoot: runs)
                print("\(path): \(spec.title) — \(runner.runs.count) runs (\(spec.rows.count) rows, seeds \(spec.seeds.map(String.init).joined(separator: ", ")))")
                var total = 0.0, totalWall = 0.0
                for run in runner.runs {
                    let state: String
                    switch try run.state() {
                    case .missing: state = "missing"
                    case .resumable(let done): state = "partial (\(done)/\(run.recipe.schedule.epochs) epochs)"
                    case .trained: state = "trained"
                    case .conflict: state = "CONFLICT (recipe.yaml differs; `table run` refuses it)"
                    }
                    let r = run.recipe
                    let settings = "\(r.model.name)\(r.model.options.isEmpty ? "" : " " + r.model.options.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ","))"
                        + " on \(r.data.name), \(r.threat.norm.rawValue) ε \(r.threat.eps.text) step \(r.threat.step.text) ×\(r.threat.steps), "
                        + "loss " + r.loss.terms.map(\.name).joined(separator: "+")
                        + (r.loss.params.isEmpty ? "" : " (" + r.loss.params.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ") + ")")
                        + (r.noise.enabled ? ", noise σ \(r.noise.sigma)" : "")
                        + (r.awp.enabled ? ", AWP γ \(r.awp.gamma) from epoch \(r.awp.warmup)" : "")
                        + ", \(r.schedule.epochs) epochs, batch \(r.schedule.batch), lr \(r.optim.lr), seed \(run.seed)"
                    print("  \(run.label) [seed \(run.seed)] hash \(run.hash.prefix(12)) \(state)\n    \(settings)\n    \(run.folder)")
                    guard !noCost else { continue }
                    let cost = try estimator.cost(of: run, spec: spec)
                    total += cost.cpuHoursTotal
                    totalWall += cost.totalSeconds
                    print(String(format: "    cost: %.2f GFLOP/step × %d steps/epoch, %.2f s/step (%@); %.4f CPU-h/epoch, %.3f CPU-h total incl. evaluation (%.1f min wall on %d cores)",
                                 cost.stepGFLOP, cost.stepsPerEpoch, cost.secondsPerStep, cost.method, cost.cpuHoursPerEpoch,
                                 cost.cpuHoursTotal, cost.totalSeconds / 60, cost.cores))
                }
                if !noCost {
                    print(String(format: "  table total: %.2f CPU-hours, %.1f hours wall on this machine (%.0f min)", total, totalWall / 3600, totalWall / 60))
                }
            } catch {
                printError("\(path): error: \(error)")
                failed = true
            }
        }
        if failed { throw ExitCode(1) }
    }
}

struct TableRunCommand: ParsableCommand, BLASSettingsCommand {
    var blasCoretype: String { "Haswell" }
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Train the missing runs, evaluate the missing cells; finished work is never redone, a killed run continues.")

    @Argument(help: "The table spec (YAML).") var table: String
    @Option(help: "Only the runs of this row (its label).") var only: String?
    @Option(help: "Root of the run folders (default: the spec's 'runs').") var runs: String?
    @Option(name: .customLong("ranks-per-run"),
            help: "Under mpirun: hand whole runs to groups of this many ranks (each group trains its run data-parallel).")
    var ranksPerRun: Int?

    func run() throws {
        let spec = try loadTableSpec(table)
        if Launch.underMPI || ranksPerRun != nil { return try runDealt(spec) }
        let stop = StopFlag()
        let source = interruptSource { stop.request() }
        defer { source.cancel() }
        let failures: [(label: String, message: String)]
        do {
            let runner = try TableRunner(spec: spec, runsRoot: runs, stop: stop, log: { print($0) })
            failures = try runner.runAll(only: only)
        } catch {
            printError("error: \(error)")
            throw ExitCode(1)
        }
        for failure in failures { printError("\(failure.label): \(failure.message)") }
        if stop.requested { throw ExitCode(130) }
        if !failures.isEmpty { throw ExitCode(1) }
        print("\(table): every run trained and evaluated; `rat table render \(table)` shows the table")
    }

    /// The runs dealt to groups of `--ranks-per-run` ranks by rank 0 (docs/distributed.md):
    /// surrogate rows first, all of them finished before the others start, so that transfer
    /// cells find their surrogate trained. A failed run is reported; the others go on.
    private func runDealt(_ spec: TableSpec) throws {
        let communicator: any Communicator
        do { communicator = try Launch.communicator() } catch {
            printError("error: \(error)")
            throw ExitCode(1)
        }
        defer { Launch.finish(communicator) }
        let k = ranksPerRun ?? 1
        let runner: TableRunner
        do {
            runner = try TableRunner(spec: spec, runsRoot: runs,
                                     log: { [rank = communicator.rank] in print("[rank \(rank)] \($0)") })
        } catch {
            if communicator.isRoot { printError("error: \(error)") }
            communicator.abort("error: \(error)", code: 1)
        }
        let order = try runner.order(only: only)
        let surrogates = order.filter { index in runner.isSurrogate(index) }
        var failed = false
        for phase in [surrogates, order.filter { !surrogates.contains($0) }] {
            do {
                try dealWork(count: phase.count, ranksPerRun: k, communicator: communicator) { item, group in
                    let index = phase[item]
                    if group.isRoot { print("[rank \(communicator.rank)] run \(index + 1)/\(runner.runs.count): \(runner.runs[index].folder)") }
                    switch try runner.runOne(index, group: group) {
                    case .finished, .stopped: break
                    case .waitingForSurrogate(let folder):
                        throw TableError("transfer cells wait for the surrogate \(folder)")
                    }
                }
            } catch {
                printError("[rank \(communicator.rank)] \(error)")
                failed = true
            }
        }
        if communicator.allReduceMax(failed ? 1 : 0) != 0 { throw ExitCode(1) }
        if communicator.isRoot { print("\(table): every run trained and evaluated; `rat table render \(table)` shows the table") }
    }
}

struct TableRenderCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "render",
        abstract: "The table from the stored results: mean ± std over seeds, the paper's value and the difference, best per column in bold; "
            + "writes a provenance file (per cell: run folders, checkpoint hashes, eval JSON files).")

    @Argument(help: "The table spec (YAML).") var table: String
    @Option(help: "md, csv, tex or html.") var format: TableFormat = .md
    @Option(help: "Write the table to this file (default: standard output).") var output: String?
    @Option(help: "The provenance file (default: <output>.provenance.json, else <runs>/<table>.provenance.json).") var provenance: String?
    @Option(help: "Root of the run folders (default: the spec's 'runs').") var runs: String?

    func run() throws {
        let spec = try loadTableSpec(table)
        let results: TableResults
        do { results = try TableResults(spec: spec, runsRoot: runs) } catch {
            printError("error: \(error)")
            throw ExitCode(1)
        }
        let linkBase = output.map { ($0 as NSString).deletingLastPathComponent }
        let text = results.render(format, linkBase: linkBase)
        let stem = ((table as NSString).lastPathComponent as NSString).deletingPathExtension
        let provenancePath = provenance ?? output.map { $0 + ".provenance.json" } ?? "\(runs ?? spec.runsRoot)/\(stem).provenance.json"
        do {
            if let output { try text.write(toFile: output, atomically: true, encoding: .utf8) } else { print(text, terminator: "") }
            try FileManager.default.createDirectory(atPath: (provenancePath as NSString).deletingLastPathComponent,
                                                    withIntermediateDirectories: true)
            try results.provenanceJSON.write(toFile: provenancePath, atomically: true, encoding: .utf8)
        } catch {
            printError("error: \(error)")
            throw ExitCode(1)
        }
        printError("provenance: \(provenancePath)" + (output.map { "; table: \($0)" } ?? ""))
    }
}
