import Collective
import Evaluation
import Foundation
import Recipe
import Training

/// What one evaluation of a run produced for the table: accuracies by column and where they
/// came from. Stored as `<run>/table/<key>.json`; the key covers everything the numbers
/// depend on, so an existing record is finished work and a changed setting makes a new one.
public struct CellRecord: Codable, Sendable {
    public var key: String
    /// `best`, `last` or `best-ever`.
    public var rule: String
    /// The checkpoint the numbers are from, and its label (`best`, `last`, `epoch 40`).
    public var checkpoint: String
    public var checkpointLabel: String
    public var checkpointHash: String
    /// The stored `rat eval` JSON files (for best-ever: every compared checkpoint's).
    public var evalJSON: [String]
    /// Column name (`clean`, `pgd20`, `transfer-cw20`, …) → accuracy in [0, 1].
    public var accuracy: [String: Double]
    public var surrogate: String?
    public var surrogateCheckpointHash: String?
}

/// Training measurements taken by `table run` in the process that trained: peak resident
/// memory while training (the kernel's high-water mark, reset before training).
public struct TrainingRecord: Codable, Sendable {
    public var peakResidentMB: Double
    public var epochsTrainedHere: Int
}

/// How `runOne` left a run.
public enum RunOutcome: Equatable, Sendable {
    /// Everything the table asks of this run is stored; `trained`/`evaluated` say whether
    /// this call did the work (false: it was already there).
    case finished(trained: Bool, evaluated: Int)
    /// Stopped by the stop flag; a rerun continues.
    case stopped
    /// Transfer cells wait for their surrogate run, which is not trained yet.
    case waitingForSurrogate(String)
}

/// Runs a table: trains what is missing, evaluates what is missing, never redoes stored work.
/// `runOne(index)` does one run completely and is what a work dealer hands out.
public final class TableRunner {
    public let spec: TableSpec
    public let runs: [TableRun]
    let log: (String) -> Void
    let stop: StopFlag
    /// Checkpoint hashes by path and modification date: rendering reads each file once.
    private var hashes = [String: String]()

    func checkpointHash(_ path: String) throws -> String {
        let date = (try? FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
        let key = "\(path)@\(date)"
        if let known = hashes[key] { return known }
        let hash = try fileHash(path)
        hashes[key] = hash
        return hash
    }

    public init(spec: TableSpec, runsRoot: String? = nil, stop: StopFlag = StopFlag(), log: @escaping (String) -> Void = { _ in }) throws {
        self.spec = spec
        runs = try spec.runs(runsRoot: runsRoot)
        self.stop = stop
        self.log = log
    }

    /// Run indices in the order a serial `table run` takes them: surrogate rows first, so that
    /// transfer cells find their surrogate trained. `only` keeps one row (by label) and its surrogates.
    public func order(only: String? = nil) throws -> [Int] {
        if let only, !spec.rows.contains(where: { $0.label == only }) {
            throw TableError("--only '\(only)': no such row" + suggestion(for: only, among: spec.rows.map(\.label)))
        }
        // One row with the surrogates its transfer cells need.
        var wanted = Set(spec.rows.map(\.label))
        if let only, let row = spec.rows.first(where: { $0.label == only }) {
            wanted = [only]
            if spec.columns.contains(where: \.kind.isTransfer) {
                wanted.formUnion([row.surrogate].compactMap { $0 } + spec.columns.compactMap(\.surrogate))
            }
        }
        let indices = runs.indices.filter { wanted.contains(spec.rows[runs[$0].row].label) }
        return indices.filter(isSurrogate) + indices.filter { !isSurrogate($0) }
    }

    /// Whether run `index` belongs to a row that transfer cells attack from.
    public func isSurrogate(_ index: Int) -> Bool {
        let surrogates = Set(spec.rows.compactMap(\.surrogate) + spec.columns.compactMap(\.surrogate))
        return surrogates.contains(spec.rows[runs[index].row].label)
    }

    /// Trains (or resumes) run `index` if needed, then evaluates every cell it lacks. Holds
    /// `<run>/table/.lock` throughout: a second `table run` on the same run fails at once.
    ///
    /// With a `group` of several ranks (`mpirun … rat table run --ranks-per-run k`), the
    /// group trains the run data-parallel: its rank 0 does everything above and tells the
    /// others whether to train (and whether to resume); only rank 0 evaluates.
    public func runOne(_ index: Int, group: any Communicator = SingleProcess()) throws -> RunOutcome {
        guard group.isRoot else {
            var decision = [UInt8](repeating: 0, count: 1)
            group.broadcast(&decision, from: 0)
            guard let plan = TrainingPlan(rawValue: decision[0]), plan != .none else { return .finished(trained: false, evaluated: 0) }
            let trainer = try startTogether(group) {
                try Trainer(recipe: runs[index].recipe, resume: plan == .resume, overwrite: plan == .fresh,
                            communicator: group, log: { _ in })
            }
            return try trainer.run(stop: stop) ? .finished(trained: true, evaluated: 0) : .stopped
        }
        // Rank 0 of a group tells the others what it decided, whatever happens (a throw included).
        var told = false
        func tell(_ plan: TrainingPlan) {
            guard !told, group.size > 1 else { return }
            told = true
            var decision = [plan.rawValue]
            group.broadcast(&decision, from: 0)
        }
        defer { tell(.none) }
        let run = runs[index]
        if case .conflict(let differences) = try run.state() { throw TableError(run.conflictMessage(differences)) }
        try FileManager.default.createDirectory(atPath: run.recordsFolder, withIntermediateDirectories: true)
        let lock: RunLock
        do { lock = try RunLock(folder: run.recordsFolder) } catch {
            throw TableError("\(run.folder) is being worked on by another `rat table run` (\(error)); it is left to that one")
        }
        defer { lock.release() }
        // Read again under the lock: another process may have finished it meanwhile.
        let state = try run.state()
        var trained = false
        switch state {
        case .conflict(let differences): throw TableError(run.conflictMessage(differences))
        case .trained: tell(.none)
        case .missing, .resumable:
            if case .resumable = state { tell(.resume) } else { tell(.fresh) }
            guard try train(run, state: state, group: group) else { return .stopped }
            trained = true
        }
        let row = spec.rows[run.row]
        if row.hidden { return .finished(trained: trained, evaluated: 0) }
        var evaluated = 0
        for group in cellGroups(of: run) {
            if let surrogate = group.surrogate, try surrogate.state() != .trained { return .waitingForSurrogate(surrogate.folder) }
            if try evaluateCells(run, group) { evaluated += 1 }
        }
        return .finished(trained: trained, evaluated: evaluated)
    }

    /// What rank 0 of a group decided about training, sent to the group's other ranks.
    private enum TrainingPlan: UInt8 { case none, fresh, resume }

    /// Every run in `order`; a refused or failed run is reported and the others go on.
    /// Returns the failures (label and message).
    public func runAll(only: String? = nil) throws -> [(label: String, message: String)] {
        var failures = [(label: String, message: String)]()
        for index in try order(only: only) {
            let run = runs[index]
            log("[\(index + 1)/\(runs.count)] \(run.label), seed \(run.seed): \(run.folder)")
            do {
                switch try runOne(index) {
                case .finished(let trained, let evaluated):
                    log(trained || evaluated > 0 ? "  done (\(trained ? "trained" : "already trained"), \(evaluated) evaluation(s))"
                                                 : "  already complete")
                case .stopped: return failures + [(run.label, "stopped; rerun `rat table run` to continue")]
                case .waitingForSurrogate(let folder): failures.append((run.label, "transfer cells wait for the surrogate \(folder)"))
                }
            } catch let error as EvaluationInterrupted {
                return failures + [(run.label, "\(error)")]
            } catch {
                log("  error: \(error)")
                failures.append((run.label, "\(error)"))
            }
            if stop.requested { return failures + [(run.label, "stopped; rerun `rat table run` to continue")] }
        }
        return failures
    }

    // MARK: - training

    private func train(_ run: TableRun, state: RunState, group: any Communicator) throws -> Bool {
        let resume: Bool
        if case .resumable(let done) = state {
            resume = true
            log("  resuming after epoch \(done) of \(run.recipe.schedule.epochs)")
        } else {
            resume = false
            log("  training \(run.recipe.schedule.epochs) epoch(s)")
        }
        resetPeakResidentMemory()
        let before = run.epochsDone()
        // No checkpoint yet means a start killed in its first epoch: its own empty metrics
        // and recipe (checked equal above) are started over, nothing else is in the folder.
        let trainer = try startTogether(group) {
            try Trainer(recipe: run.recipe, resume: resume, overwrite: !resume, communicator: group, log: { [log] in log("  " + $0) })
        }
        guard try trainer.run(stop: stop) else { return false }
        let record = TrainingRecord(peakResidentMB: peakResidentMegabytes(), epochsTrainedHere: run.recipe.schedule.epochs - before)
        try write(record, to: run.recordsFolder + "/train.json")
        return true
    }
}

/// Builds this rank's Trainer and agrees with the group that every rank did before any trains:
/// training opens with a collective, so a rank whose set-up threw would otherwise leave the
/// others waiting in it for ever. Every rank throws if any failed (that rank with its own error).
private func startTogether(_ group: any Communicator, _ make: () throws -> Trainer) throws -> Trainer {
    let made = Result { try make() }
    var failed = 0
    if case .failure = made { failed = 1 }
    let anyFailed = group.allReduceMax(failed)
    let trainer = try made.get()
    if anyFailed != 0 {
        throw TableError("another rank of this run's group of \(group.size) could not start the run (its message names the cause)")
    }
    return trainer
}

func write<T: Encodable>(_ value: T, to path: String) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    try encoder.encode(value).write(to: URL(fileURLWithPath: path), options: .atomic)
}

/// Resets the kernel's high-water mark of this process's resident memory (Linux ≥ 4.0), so
/// that the peak read after training is that training's.
func resetPeakResidentMemory() {
    try? "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8)
}

/// VmHWM of this process, in MB (0 where /proc is absent).
func peakResidentMegabytes() -> Double {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
          let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }) else { return 0 }
    return (Double(line.split(separator: " ").dropFirst().first ?? "0") ?? 0) / 1024
}
