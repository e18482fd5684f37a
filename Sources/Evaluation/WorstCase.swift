import Attacks
import Graph

/// The attacks of an evaluation run over the first n examples of a split, per example:
/// each attack (and each component of a suite, in order) runs only on the points still
/// robust, regrouped into full batches of the compiled size (the last padded by repeating
/// its rows, which are not counted). A point is robust under an attack if the evaluated
/// model still classifies every point the attack returned correctly.
public struct ExampleOutcomes: Codable, Sendable {
    /// Per attack name: robust after each component ([component][example]); the last is the attack's.
    public var components: [String: [[Bool]]] = [:]
    public var clean: [Bool] = []

    public func robust(_ attack: String) -> [Bool]? { components[attack]?.last }
}

/// Where an interrupted evaluation stands: the finished attacks, and inside the current
/// component the batches done. Written after every batch, so Ctrl-C loses at most one.
public struct EvaluationProgress: Codable, Sendable {
    public var outcomes = ExampleOutcomes()
    /// The attack and component under way, the robust flags they started from, batches done.
    public var attack: String?
    public var component = 0
    public var startedFrom: [Bool] = []
    public var current: [Bool] = []
    public var batchesDone = 0
    /// Robust flags after each finished component of the current attack.
    public var finished: [[Bool]] = []
    public init() {}
}

/// One attack of the evaluation: its spec's components, and the model they are crafted on
/// (`surrogate`, for transfer) when that is not the evaluated model.
public struct PlannedAttack {
    public var name: String
    public var components: [any Attack]
    public var transfer: Bool

    public init(name: String, components: [any Attack], transfer: Bool) {
        self.name = name
        self.components = components
        self.transfer = transfer
    }
}

/// Runs `attacks` on the examples (images [n·D] in [0,1], labels [n]) and fills `progress`.
/// `save` is called after every batch with the progress so far; `report` with (attack,
/// component, rows done, rows in the component).
public func runAttacks(_ attacks: [PlannedAttack], evaluated: AttackedModel, surrogate: AttackedModel?,
                       images: [Float], labels: [Int32], seed: UInt64, progress: inout EvaluationProgress,
                       save: (EvaluationProgress) throws -> Void,
                       report: (String, String, Int, Int) -> Void,
                       shouldStop: () -> Bool) throws {
    let (n, d, batch) = (labels.count, evaluated.imageSize, evaluated.batch)
    if progress.outcomes.clean.count != n {
        progress.outcomes.clean = try predictions(evaluated, images: images, labels: labels, rows: Array(0..<n))
        try save(progress)
    }
    for (attackIndex, attack) in attacks.enumerated() where progress.outcomes.components[attack.name] == nil {
        let crafter = attack.transfer ? surrogate! : evaluated
        if progress.attack != attack.name {
            progress.attack = attack.name
            progress.component = 0
            progress.startedFrom = progress.outcomes.clean
            progress.current = progress.startedFrom
            progress.batchesDone = 0
            progress.finished = []
        }
        while progress.component < attack.components.count {
            let component = attack.components[progress.component]
            let rows = progress.startedFrom.indices.filter { progress.startedFrom[$0] }
            let chunks = stride(from: 0, to: rows.count, by: batch).map { Array(rows[$0..<min($0 + batch, rows.count)]) }
            for (chunkIndex, chunk) in chunks.enumerated() where chunkIndex >= progress.batchesDone {
                if shouldStop() { throw EvaluationInterrupted() }
                let padded = (0..<batch).map { chunk[$0 % chunk.count] }
                var rng = keyedGenerator(seed: seed, epoch: -1 - attackIndex, batch: chunkIndex,
                                         purpose: 16 + UInt64(progress.component))
                let found = try component.perturb(crafter, images: gather(images, padded, d), labels: padded.map { labels[$0] },
                                                  rng: &rng)
                let stillCorrect = evaluated.correct(try evaluated.logits(found), padded.map { labels[$0] })
                for (k, row) in chunk.enumerated() where !stillCorrect[k] { progress.current[row] = false }
                progress.batchesDone = chunkIndex + 1
                try save(progress)
                report(attack.name, component.name, min((chunkIndex + 1) * batch, rows.count), rows.count)
            }
            progress.finished.append(progress.current)
            progress.component += 1
            progress.startedFrom = progress.current
            progress.batchesDone = 0
        }
        progress.outcomes.components[attack.name] = progress.finished
        progress.attack = nil
        try save(progress)
    }
}

public struct EvaluationInterrupted: Error, CustomStringConvertible {
    public var description: String { "interrupted: the finished batches are kept; run the same command again to continue" }
}

/// Rows `rows` of images [n·D], concatenated.
func gather(_ images: [Float], _ rows: [Int], _ d: Int) -> [Float] {
    var out = [Float]()
    out.reserveCapacity(rows.count * d)
    for row in rows { out.append(contentsOf: images[(row * d)..<((row + 1) * d)]) }
    return out
}

/// Whether the model classifies each of `rows` correctly, in full batches.
func predictions(_ model: AttackedModel, images: [Float], labels: [Int32], rows: [Int]) throws -> [Bool] {
    var correct = [Bool](repeating: false, count: rows.count)
    for start in stride(from: 0, to: rows.count, by: model.batch) {
        let chunk = Array(rows[start..<min(start + model.batch, rows.count)])
        let padded = (0..<model.batch).map { chunk[$0 % chunk.count] }
        let result = model.correct(try model.logits(gather(images, padded, model.imageSize)), padded.map { labels[$0] })
        for k in chunk.indices { correct[start + k] = result[k] }
    }
    return correct
}
