import ArgumentParser
import Foundation
import Recipe
import Reports

struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "One self-contained HTML page per run (RUN/report.html): training curves, stored evaluations "
            + "with their gradient-masking flags, provenance, the resolved recipe; several runs: one comparison page.")

    @Argument(help: "Run folders (rat train's output).")
    var runs: [String]

    @Option(help: "The page to write (default: RUN/report.html; required with several runs).")
    var output: String?

    @Option(help: "Also write the training curves as a standalone SVG file.")
    var svg: String?

    func run() throws {
        guard !runs.isEmpty else {
            printError("error: name at least one run folder")
            throw ExitCode(1)
        }
        for run in runs { _ = try checkedRunRecipe(run, inspectDataset: false) }
        guard runs.count == 1 || output != nil else {
            printError("error: several runs make one comparison page: name it with --output FILE")
            throw ExitCode(1)
        }
        let urls = runs.map { URL(fileURLWithPath: $0) }
        let target = output.map { URL(fileURLWithPath: $0) } ?? urls[0].appendingPathComponent(reportFileName)
        let outcome: ReportOutcome
        do { outcome = try writeReport(runs: urls, to: target) } catch {
            printError("error: \(error)")
            throw ExitCode(1)
        }
        for warning in outcome.warnings { printError("warning: \(warning)") }
        print("wrote \(outcome.page.path)")
        if let svg, let curves = outcome.curves {
            try Data(curves.svgDocument.utf8).write(to: URL(fileURLWithPath: svg), options: .atomic)
            print("wrote \(svg)")
        }
        if !outcome.drewSomething {
            printError("error: nothing to draw: no finished epoch and no stored evaluation (the page says so)")
            throw ExitCode(1)
        }
    }
}

/// A run folder's recipe, loaded and checked as `rat check` does (errors exit 1); a path
/// that is not a run folder is an error naming what is missing.
func checkedRunRecipe(_ run: String, inspectDataset: Bool) throws -> Recipe {
    var isFolder: ObjCBool = false
    guard FileManager.default.fileExists(atPath: run, isDirectory: &isFolder), isFolder.boolValue else {
        printError("error: \(run): no such run folder")
        throw ExitCode(1)
    }
    guard FileManager.default.fileExists(atPath: run + "/recipe.yaml") else {
        printError("error: \(run): not a run folder: it has no recipe.yaml (rat train writes recipe.yaml, metrics.jsonl "
                   + "and checkpoints into the recipe's output folder)")
        throw ExitCode(1)
    }
    return try loadCheckedRecipe(run + "/recipe.yaml", inspectDataset: inspectDataset)
}
