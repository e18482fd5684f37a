import Foundation
import Recipe

/// One training run of a table: a row (and sweep value) at one seed, its fully resolved
/// recipe and the folder named from that recipe's hash.
public struct TableRun: Sendable {
    public var row: Int
    public var sweepValue: String?
    public var seed: Int
    /// The resolved recipe, `seed` set and `output` pointing at `folder`.
    public var recipe: Recipe
    /// FNV-1a 64 of the resolved recipe rendered with `output` blanked (the folder must not
    /// name itself): equal recipes share a run, any change makes a new one.
    public var hash: String
    public var folder: String
    /// The `--set` overrides that made the recipe (row's, sweep's, seed).
    public var overrides: [String]
    public var label: String
}

/// What a run folder holds, compared with the run the spec asks for.
public enum RunState: Equatable, Sendable {
    /// Nothing trained yet (no folder, or no checkpoint: a start killed in its first epoch).
    case missing
    /// A checkpoint from an interrupted training: continued with the trainer's resume.
    case resumable(epochsDone: Int)
    case trained
    /// The folder's `recipe.yaml` differs from the spec's resolved recipe: refused, never overwritten.
    case conflict([RecipeDifference])
}

public struct TableError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

extension TableSpec {
    /// Every run of the table, rows in order, sweep values, then seeds. `runsRoot` overrides the spec's.
    public func runs(runsRoot root: String? = nil) throws -> [TableRun] {
        var runs = [TableRun]()
        for (index, row) in rows.enumerated() {
            for value in row.sweep.map({ $0.values.map(Optional.some) }) ?? [nil] {
                let sweepOverride = value.map { ["\(row.sweep!.key)=\($0)"] } ?? []
                for seed in seeds {
                    let overrides = row.overrides + sweepOverride + ["seed=\(seed)"]
                    var recipe = try loadRecipe(row, overrides: overrides)
                    recipe.output = ""
                    let hash = fnv1aHex(Data(renderYAML(recipe).utf8))
                    let stem = recipe.name.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" ? $0 : "-" }
                    let folder = (root ?? runsRoot) + "/\(String(stem))-s\(seed)-\(hash.prefix(12))"
                    recipe.output = folder
                    let label = value.map { "\(row.label) (\(row.sweep!.key) = \($0))" } ?? row.label
                    runs.append(TableRun(row: index, sweepValue: value, seed: seed, recipe: recipe, hash: hash,
                                         folder: folder, overrides: overrides, label: label))
                }
            }
        }
        return runs
    }
}

extension TableRun {
    var recipePath: String { folder + "/recipe.yaml" }
    var lastPath: String { folder + "/last.safetensors" }
    var bestPath: String { folder + "/best.safetensors" }
    /// The table's own records (evaluations per cell, training measurements, the lock).
    var recordsFolder: String { folder + "/table" }

    /// Reads the folder. A `recipe.yaml` that differs (outside `output`, which records
    /// where the folder was) is a conflict; a checkpoint without a recipe is an error.
    public func state() throws -> RunState {
        let files = FileManager.default
        guard files.fileExists(atPath: folder) else { return .missing }
        if let stored = try? String(contentsOfFile: recipePath, encoding: .utf8) {
            let differences = try recipeDifferences(old: stored, new: renderYAML(recipe)).filter { $0.path != "output" }
            if !differences.isEmpty { return .conflict(differences) }
        } else if files.fileExists(atPath: lastPath) {
            throw TableError("\(folder) holds a checkpoint but no recipe.yaml: it is not a run this table can trust; "
                             + "move it away (nothing is deleted)")
        }
        guard files.fileExists(atPath: lastPath) else { return .missing }
        let done = epochsDone()
        return done >= recipe.schedule.epochs ? .trained : .resumable(epochsDone: done)
    }

    /// Completed epochs, from `metrics.jsonl` (one line per finished epoch).
    func epochsDone() -> Int {
        metricLines().compactMap { $0["epoch"] as? Int }.max() ?? 0
    }

    func metricLines() -> [[String: Any]] {
        guard let text = try? String(contentsOfFile: folder + "/metrics.jsonl", encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }

    /// The refusal message: the differences, and what to do; nothing is overwritten.
    func conflictMessage(_ differences: [RecipeDifference]) -> String {
        "\(folder): its recipe.yaml differs from the table's resolved recipe for '\(label)' seed \(seed) "
            + "(the folder is not touched):\n  " + differences.map(\.description).joined(separator: "\n  ")
            + "\nmove the folder away, or use another 'runs:' root"
    }
}

/// FNV-1a 64 as 16 hex digits: folder names and record keys (not a security hash).
func fnv1aHex(_ data: Data) -> String {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for b in data { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
    return String(format: "%016llx", h)
}

/// The same hash as `rat eval` writes in its JSON (`fnv1a64:<hex>`), of a file's bytes.
func fileHash(_ path: String) throws -> String {
    "fnv1a64:" + fnv1aHex(try Data(contentsOf: URL(fileURLWithPath: path)))
}
