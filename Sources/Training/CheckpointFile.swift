import Checkpoints
import Foundation

// A checkpoint is two safetensors files (docs/checkpoints.md):
//   <name>.safetensors        the weights: exactly a PyTorch `state_dict` — parameters and BN
//                             buffers under PyTorch's names and shapes (OIHW convolutions,
//                             [out, in] linears, [C] BN), plus each BN layer's
//                             `num_batches_tracked` (I64, shape []), so `load_state_dict(…,
//                             strict=True)` takes it as is;
//   <name>.optim.safetensors  the optimizer state: `momentum/<parameter>` in the same shapes.
// Both carry the run position (epoch, batch, step, best_metric, and the caller's extra keys)
// in their header metadata; resuming needs both, and checks that they come from one save.
// Each file is written atomically (temporary file + rename). The optimizer state is written
// first: a crash between the two renames leaves a new optimizer file beside the previous
// weights, which a resume detects by the differing step (and refuses, naming both files),
// while the weights file alone still evaluates.

/// The header metadata key `format` of each file.
public enum CheckpointFormat {
    public static let weights = "rat-checkpoint-2"
    public static let optimizerState = "rat-optimizer-state-1"
    /// rat's first layout: every tensor flat ([count]) and momentum in the weights file.
    public static let legacy = "rat-checkpoint-1"
}

/// The optimizer-state file of a weights file: `last.safetensors` → `last.optim.safetensors`.
public func optimizerStatePath(forWeights path: String) -> String {
    let suffix = ".safetensors"
    let stem = path.hasSuffix(suffix) ? String(path.dropLast(suffix.count)) : path
    return stem + ".optim" + suffix
}

/// The metadata keys that place a checkpoint in its run; the two files must agree on them.
let positionKeys = ["epoch", "batch", "step"]

func positionMetadata(_ state: TrainState) -> [String: String] {
    ["epoch": String(state.epoch), "batch": String(state.batch), "step": String(state.step),
     "best_metric": String(state.bestMetric)]
}

/// The BatchNorm layers of a state: every buffer path ending in `.running_mean`, minus it.
func batchNormLayers(_ names: some Sequence<String>) -> [String] {
    let suffix = ".running_mean"
    return names.filter { $0.hasSuffix(suffix) }.map { String($0.dropLast(suffix.count)) }.sorted()
}

/// Writes `state` as `path` (the weights, a PyTorch state_dict) and, unless
/// `withOptimizerState` is false, `optimizerStatePath(forWeights: path)` (momentum) first.
/// `num_batches_tracked` is `state.step`: every step updates every BN layer's running
/// statistics once, from the clean pass.
public func saveCheckpoint(_ state: TrainState, to path: String, metadata extra: [String: String] = [:],
                           withOptimizerState: Bool = true) throws {
    let position = extra.merging(positionMetadata(state)) { _, new in new }
    func shape(_ name: String, _ values: [Float]) -> [Int] { state.shapes[name] ?? [values.count] }
    if withOptimizerState {
        var optimizer = SafeTensors(metadata: position.merging(["format": CheckpointFormat.optimizerState]) { _, new in new })
        for name in state.parameters.keys.sorted() {
            let velocity = state.momentum[name]!  // [shape of the parameter]
            try optimizer.add("momentum/\(name)", float32: velocity, shape: shape(name, velocity))
        }
        try optimizer.write(to: optimizerStatePath(forWeights: path))
    }
    var weights = SafeTensors(metadata: position.merging(["format": CheckpointFormat.weights]) { _, new in new })
    let tensors = state.parameters.merging(state.buffers) { parameter, _ in parameter }
    for name in tensors.keys.sorted() {
        try weights.add(name, float32: tensors[name]!, shape: shape(name, tensors[name]!))
    }
    for layer in batchNormLayers(state.buffers.keys) {
        try weights.add("\(layer).num_batches_tracked", int64: [Int64(state.step)], shape: [])
    }
    try weights.write(to: path)
}

/// Restores a checkpoint into `state`, whose names and shapes are the model's. Accepts rat's
/// checkpoints (this layout and the legacy flat one) and any PyTorch-exported state_dict of
/// the same model: F32 as is, F64/F16/BF16 converted to Float32, `num_batches_tracked` (any
/// integer dtype) ignored, and the TRADES WideResNet's unused `sub_block1.*` ignored.
/// Refused, all problems listed in one error: missing, unexpected and mis-shaped names,
/// integer (or 8-bit float) dtypes, NaN/Inf values. `requireMomentum` (resume) also reads
/// the momentum — from the optimizer-state file, checked to be from the same save — and
/// the run position; without it (evaluation) only the weights file is read.
public func loadCheckpoint(_ path: String, into state: inout TrainState, requireMomentum: Bool) throws {
    let file = try SafeTensors.read(path: path)
    // Rat's first layout wrote flat tensors and kept momentum in the weights file.
    let legacy = file.metadata["format"] == CheckpointFormat.legacy || file.names.contains { $0.hasPrefix("momentum/") }
    var problems = LoadProblems()
    var loaded = [String: [Float]]()
    for name in (state.parameters.keys.sorted() + state.buffers.keys.sorted()) {
        guard let modelShape = state.shapes[name] else { preconditionFailure("TrainState has no shape for \(name)") }
        if let values = problems.floats(name, in: file, modelShape: modelShape, acceptFlat: legacy) { loaded[name] = values }
    }
    let known = Set(state.parameters.keys).union(state.buffers.keys)
    let batchNorm = Set(batchNormLayers(state.buffers.keys))
    // The TRADES WideResNet builds a `sub_block1` its forward never uses (Models/WideResNet.swift).
    let unusedReferenceBlock = !known.contains { $0.hasPrefix("sub_block1.") } && known.contains { $0.hasPrefix("block1.layer.") }
    for name in file.names where !known.contains(name) {
        if name.hasPrefix("momentum/") && legacy { continue }
        if unusedReferenceBlock && name.hasPrefix("sub_block1.") { continue }
        let counter = ".num_batches_tracked"
        if name.hasSuffix(counter), batchNorm.contains(String(name.dropLast(counter.count))) {
            problems.checkCounter(name, in: file)
            continue
        }
        problems.unexpected.append(name)
    }
    if let report = problems.report(path) { throw TrainingError(report) }

    var momentum = [String: [Float]]()
    if requireMomentum {
        let source = legacy ? file : try optimizerState(beside: path, weights: file)
        var momentumProblems = LoadProblems()
        for name in state.parameters.keys.sorted() {
            if let values = momentumProblems.floats("momentum/\(name)", in: source, modelShape: state.shapes[name]!, acceptFlat: legacy) {
                momentum[name] = values
            }
        }
        if !legacy {
            let expected = Set(state.parameters.keys.map { "momentum/\($0)" })
            momentumProblems.unexpected = source.names.filter { !expected.contains($0) }
        }
        if let report = momentumProblems.report(source.source) { throw TrainingError(report) }
    }

    // Everything checked: only now does the state change.
    for (name, values) in loaded {
        if state.parameters[name] != nil { state.parameters[name] = values } else { state.buffers[name] = values }
    }
    for (name, values) in momentum { state.momentum[name] = values }
    state.epoch = Int(file.metadata["epoch"] ?? "") ?? 0
    state.batch = Int(file.metadata["batch"] ?? "") ?? 0
    state.step = Int(file.metadata["step"] ?? "") ?? 0
    state.bestMetric = Double(file.metadata["best_metric"] ?? "") ?? -.infinity
}

/// Reads the optimizer-state file of the weights file at `path` and checks that both come
/// from one save (same epoch, batch and step).
func optimizerState(beside path: String, weights: SafeTensors) throws -> SafeTensors {
    let optimizerPath = optimizerStatePath(forWeights: path)
    guard FileManager.default.fileExists(atPath: optimizerPath) else {
        throw TrainingError("\(path): resuming needs the optimizer state (momentum) in '\(optimizerPath)', which does not exist; "
                            + "the weights file alone can be evaluated (rat eval), not resumed")
    }
    let optimizer = try SafeTensors.read(path: optimizerPath)
    guard optimizer.metadata["format"] == CheckpointFormat.optimizerState else {
        throw TrainingError("\(optimizerPath): not a rat optimizer-state file (metadata format is "
                            + "'\(optimizer.metadata["format"] ?? "absent")', expected '\(CheckpointFormat.optimizerState)')")
    }
    func position(_ file: SafeTensors) -> String {
        positionKeys.map { "\($0) \(file.metadata[$0] ?? "absent")" }.joined(separator: ", ")
    }
    guard positionKeys.allSatisfy({ optimizer.metadata[$0] == weights.metadata[$0] }) else {
        throw TrainingError("'\(optimizerPath)' (\(position(optimizer))) and '\(path)' (\(position(weights))) are not from "
                            + "the same save (interrupted between writing the two?); resume cannot continue from them. "
                            + "The weights file alone can still be evaluated (rat eval)")
    }
    return optimizer
}
