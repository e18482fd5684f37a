import Evaluation
import Foundation
import Recipe
import Training

/// Columns of one run evaluated together (one `rat eval`): the white-box columns with the same
/// number of examples, or the transfer columns from one surrogate with the same number.
struct CellGroup {
    /// Indices into `spec.columns`.
    var columns: [Int]
    var surrogate: TableRun?
    var examples: Int?
}

extension TableRunner {
    /// The cell groups of a run, in column order; none for a hidden row.
    func cellGroups(of run: TableRun) -> [CellGroup] {
        let row = spec.rows[run.row]
        guard !row.hidden else { return [] }
        var groups = [CellGroup]()
        for (index, column) in spec.columns.enumerated() where column.kind.isAccuracy {
            let examples = column.examples ?? spec.examples
            var surrogate: TableRun?
            if column.kind.isTransfer {
                let name = row.surrogate ?? column.surrogate
                surrogate = runs.first { spec.rows[$0.row].label == name && $0.seed == run.seed }
            }
            if let at = groups.firstIndex(where: { $0.examples == examples && $0.surrogate?.folder == surrogate?.folder }) {
                groups[at].columns.append(index)
            } else {
                groups.append(CellGroup(columns: [index], surrogate: surrogate, examples: examples))
            }
        }
        return groups
    }

    /// The recipe a group is evaluated with: the run's, its `eval.attacks` set to the group's
    /// columns (the selection metric kept when it is one of them).
    func evaluationRecipe(_ run: TableRun, _ group: CellGroup) throws -> Recipe {
        var attacks = [String]()
        for index in group.columns {
            if let attack = spec.columns[index].kind.attack, !attacks.contains(attack) { attacks.append(attack) }
        }
        var overrides = run.overrides + ["eval.attacks=[\(attacks.joined(separator: ", "))]"]
        if !attacks.contains(run.recipe.eval.select.metric) { overrides.append("eval.select.metric=clean") }
        if let split = spec.split { overrides.append("eval.split=\(split)") }
        var recipe = try spec.loadRecipe(spec.rows[run.row], overrides: overrides)
        recipe.output = run.folder
        return recipe
    }

    /// Where a group's record is: its key hashes the rule, the evaluation recipe, split,
    /// examples and the bytes of the checkpoints (the run's and the surrogate's).
    func cellKey(_ run: TableRun, _ group: CellGroup) throws
        -> (key: String, recordPath: String, recipe: Recipe, candidates: [(label: String, path: String)],
            surrogateCheckpoint: String?, surrogateHash: String?) {
        let row = spec.rows[run.row]
        let recipe = try evaluationRecipe(run, group)
        let candidates = try checkpoints(run, rule: row.checkpoint)
        let surrogateCheckpoint = group.surrogate.map { FileManager.default.fileExists(atPath: $0.bestPath) ? $0.bestPath : $0.lastPath }
        let surrogateHash = try surrogateCheckpoint.map(checkpointHash)
        let hashes = try candidates.map { try checkpointHash($0.path) }
        var keyed = recipe
        keyed.output = ""   // where the runs root is does not change the numbers
        let keyText = [row.checkpoint.rawValue, renderYAML(keyed), spec.split ?? "", group.examples.map(String.init) ?? "",
                       hashes.joined(separator: ","), surrogateHash ?? "white-box"].joined(separator: "|")
        let key = (group.surrogate == nil ? "white-" : "transfer-") + fnv1aHex(Data(keyText.utf8))
        return (key, run.recordsFolder + "/\(key).json", recipe, candidates, surrogateCheckpoint, surrogateHash)
    }

    /// Evaluates one group unless its record exists. Returns whether it evaluated.
    func evaluateCells(_ run: TableRun, _ group: CellGroup) throws -> Bool {
        let cell = try cellKey(run, group)
        if FileManager.default.fileExists(atPath: cell.recordPath) { return false }
        let row = spec.rows[run.row]
        var options = EvaluationOptions(split: spec.split, examples: group.examples)
        options.storeIn = run.folder
        if let surrogate = group.surrogate, let checkpoint = cell.surrogateCheckpoint {
            options.transferFrom = (checkpoint, surrogate.recipe)
            log("  evaluating \(cell.recipe.eval.attacks.map(\.name).joined(separator: ", ")) transferred from \(surrogate.folder)")
        } else {
            log("  evaluating clean, \(cell.recipe.eval.attacks.map(\.name).joined(separator: ", "))")
        }
        let progress: (String) -> Void = { [log] in log("    " + $0) }
        let chosen: (label: String, report: EvaluationReport)
        var files = [String]()
        if row.checkpoint == .bestEver {
            let comparison = try compareCheckpoints(cell.candidates, recipe: cell.recipe, options: options, stop: stop, log: progress)
            guard let best = comparison.bestEver else { throw TableError("\(run.folder): no checkpoint to compare") }
            chosen = comparison.reports[best]
            files = comparison.reports.compactMap(\.report.storedAt)
        } else {
            let report = try evaluate(recipe: cell.recipe, checkpoint: cell.candidates[0].path, options: options, stop: stop, log: progress)
            chosen = (cell.candidates[0].label, report)
            files = report.storedAt.map { [$0] } ?? []
        }
        // Transfer groups report their attacks as `transfer-<attack>`; clean is the white-box group's.
        var accuracy = [String: Double]()
        for (name, value) in chosen.report.accuracy where group.surrogate == nil || name != "clean" {
            accuracy[group.surrogate == nil ? name : "transfer-" + name] = value
        }
        let record = CellRecord(key: cell.key, rule: row.checkpoint.rawValue, checkpoint: chosen.report.checkpoint,
                                checkpointLabel: chosen.label, checkpointHash: chosen.report.checkpointHash, evalJSON: files,
                                accuracy: accuracy, surrogate: group.surrogate?.folder, surrogateCheckpointHash: cell.surrogateHash)
        try write(record, to: cell.recordPath)
        return true
    }

    /// The checkpoints a rule looks at: best (the last when no best was ever saved), last,
    /// or every kept one for best-ever.
    func checkpoints(_ run: TableRun, rule: TableSpec.CheckpointRule) throws -> [(label: String, path: String)] {
        switch rule {
        case .best:
            return FileManager.default.fileExists(atPath: run.bestPath) ? [("best", run.bestPath)] : [("last (no best saved)", run.lastPath)]
        case .last: return [("last", run.lastPath)]
        case .bestEver: return try runCheckpoints(run.folder, .all)
        }
    }
}
