import Foundation

/// The stored results of a table, gathered from its run folders (nothing is computed):
/// per displayed row and column, the value of each seed and where it came from.
public struct TableResults: Sendable {
    public struct Source: Sendable {
        public var seed: Int
        public var folder: String
        public var value: Double
        public var checkpoint: String?
        public var checkpointLabel: String?
        public var checkpointHash: String?
        public var evalJSON: [String]
        public var record: String?
    }

    public struct Cell: Sendable {
        public var sources: [Source]
        public var paper: Double?
        /// Out of `spec.seeds.count`.
        public var count: Int { sources.count }
        public var mean: Double? { sources.isEmpty ? nil : sources.map(\.value).reduce(0, +) / Double(sources.count) }
        /// Sample standard deviation over seeds (n − 1); nil below two seeds.
        public var std: Double? {
            guard let mean, sources.count > 1 else { return nil }
            return (sources.map { ($0.value - mean) * ($0.value - mean) }.reduce(0, +) / Double(sources.count - 1)).squareRoot()
        }
        public var difference: Double? { mean.flatMap { m in paper.map { m - $0 } } }
        /// The checkpoint was chosen on the evaluated split (the paper's way): marked.
        public var bestEver = false
        public var best = false
    }

    public struct Row: Sendable {
        public var label: String
        public var cells: [Cell]
        /// One run folder per seed (for links to their reports).
        public var folders: [(seed: Int, folder: String)]
    }

    public var spec: TableSpec
    public var rows: [Row]

    /// Reads every run's records; cells without a record stay empty.
    public init(spec: TableSpec, runsRoot: String? = nil) throws {
        self.spec = spec
        let runner = try TableRunner(spec: spec, runsRoot: runsRoot)
        rows = []
        for displayed in spec.displayedRows {
            let row = spec.rows[displayed.row]
            let runs = runner.runs.filter { $0.row == displayed.row && $0.sweepValue == displayed.sweepValue }
            var cells = [Cell]()
            for column in spec.columns {
                var cell = Cell(sources: [], paper: row.paper[displayed.sweepValue ?? ""]?[column.kind])
                cell.bestEver = column.kind.isAccuracy && row.checkpoint == .bestEver
                for run in runs where (try? run.state()) == .trained {
                    if let source = try Self.source(run, column: column, runner: runner) { cell.sources.append(source) }
                }
                cells.append(cell)
            }
            rows.append(Row(label: displayed.label, cells: cells, folders: runs.map { ($0.seed, $0.folder) }))
        }
        for (index, column) in spec.columns.enumerated() {
            let means = rows.compactMap { $0.cells[index].mean }
            guard let best = column.kind.higherIsBetter ? means.max() : means.min() else { continue }
            for r in rows.indices where rows[r].cells[index].mean == best { rows[r].cells[index].best = true }
        }
    }

    private static func source(_ run: TableRun, column: TableSpec.Column, runner: TableRunner) throws -> Source? {
        switch column.kind {
        case .epochTime:
            let seconds = run.metricLines().compactMap { ($0["seconds"] as? NSNumber)?.doubleValue }
            guard !seconds.isEmpty else { return nil }
            return Source(seed: run.seed, folder: run.folder, value: seconds.reduce(0, +) / Double(seconds.count), evalJSON: [],
                          record: run.folder + "/metrics.jsonl")
        case .peakMemory:
            let path = run.recordsFolder + "/train.json"
            guard let data = FileManager.default.contents(atPath: path),
                  let record = try? JSONDecoder().decode(TrainingRecord.self, from: data) else { return nil }
            return Source(seed: run.seed, folder: run.folder, value: record.peakResidentMB, evalJSON: [], record: path)
        default:
            guard let index = runner.spec.columns.firstIndex(where: { $0.title == column.title && $0.kind == column.kind }),
                  let group = runner.cellGroups(of: run).first(where: { $0.columns.contains(index) }) else { return nil }
            if let surrogate = group.surrogate, (try? surrogate.state()) != .trained { return nil }
            let cell = try runner.cellKey(run, group)
            guard let data = FileManager.default.contents(atPath: cell.recordPath),
                  let record = try? JSONDecoder().decode(CellRecord.self, from: data),
                  let value = record.accuracy[column.kind.rawValue] else { return nil }
            return Source(seed: run.seed, folder: run.folder, value: 100 * value, checkpoint: record.checkpoint,
                          checkpointLabel: record.checkpointLabel, checkpointHash: record.checkpointHash,
                          evalJSON: record.evalJSON, record: cell.recordPath)
        }
    }

    /// Per cell: the seeds' values and the folders, checkpoints (with hashes) and eval JSON
    /// files they came from.
    public var provenanceJSON: String {
        var cells = [[String: Any]]()
        for row in rows {
            for (column, cell) in zip(spec.columns, row.cells) {
                var entry: [String: Any] = ["row": row.label, "column": column.title, "seeds_found": cell.count,
                                            "seeds_asked": spec.seeds.count]
                if let mean = cell.mean { entry["mean"] = mean }
                if let std = cell.std { entry["std"] = std }
                if let paper = cell.paper { entry["paper"] = paper }
                if cell.bestEver { entry["checkpoint_rule"] = "best-ever (selected on the evaluated split)" }
                entry["sources"] = cell.sources.map { source -> [String: Any] in
                    var s: [String: Any] = ["seed": source.seed, "run_folder": source.folder, "value": source.value,
                                            "eval_json": source.evalJSON]
                    if let c = source.checkpoint { s["checkpoint"] = c }
                    if let l = source.checkpointLabel { s["checkpoint_label"] = l }
                    if let h = source.checkpointHash { s["checkpoint_hash"] = h }
                    if let r = source.record { s["record"] = r }
                    return s
                }
                cells.append(entry)
            }
        }
        let object: [String: Any] = ["table": spec.path, "title": spec.title, "seeds": spec.seeds, "cells": cells]
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}
