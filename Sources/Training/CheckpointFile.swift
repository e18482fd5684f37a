import Checkpoints
import Foundation

// Checkpoints are safetensors files: parameters and BN buffers under their PyTorch names
// (loadable by `model.load_state_dict`), momentum under `momentum/<name>`, and the run
// position in the header metadata. Written atomically (temporary file + rename).

public func saveCheckpoint(_ state: TrainState, to path: String, metadata extra: [String: String] = [:]) throws {
    var file = SafeTensors(metadata: extra.merging([
        "format": "rat-checkpoint-1",
        "epoch": String(state.epoch), "batch": String(state.batch), "step": String(state.step),
        "best_metric": String(state.bestMetric),
    ]) { _, new in new })
    for name in state.parameters.keys.sorted() {
        try file.add(name, float32: state.parameters[name]!, shape: [state.parameters[name]!.count])
        try file.add("momentum/\(name)", float32: state.momentum[name]!, shape: [state.momentum[name]!.count])
    }
    for name in state.buffers.keys.sorted() {
        try file.add(name, float32: state.buffers[name]!, shape: [state.buffers[name]!.count])
    }
    try file.write(to: path)
}

/// Restores a state saved by `saveCheckpoint` into `state` (which fixes the names and
/// sizes the model expects); a checkpoint of another model is reported with the differences.
public func loadCheckpoint(_ path: String, into state: inout TrainState, requireMomentum: Bool) throws {
    let file = try SafeTensors.read(path: path)
    var problems = [String]()
    for name in state.parameters.keys.sorted() + state.buffers.keys.sorted() {
        let expected = state.parameters[name]?.count ?? state.buffers[name]!.count
        guard file.contains(name) else { problems.append("missing \(name) (\(expected) values)"); continue }
        let values = try file.float32(name)
        guard values.count == expected else { problems.append("\(name): \(values.count) values, the model has \(expected)"); continue }
        if state.parameters[name] != nil { state.parameters[name] = values } else { state.buffers[name] = values }
        if requireMomentum, state.parameters[name] != nil {
            guard file.contains("momentum/\(name)") else { problems.append("missing momentum/\(name)"); continue }
            state.momentum[name] = try file.float32("momentum/\(name)")
        }
    }
    let known = Set(state.parameters.keys).union(state.buffers.keys)
    let unexpected = file.names.filter { !$0.hasPrefix("momentum/") && !known.contains($0) }
    if !unexpected.isEmpty { problems.append("unexpected tensors: \(unexpected.prefix(8).joined(separator: ", "))") }
    guard problems.isEmpty else {
        throw TrainingError("\(path): checkpoint does not fit this model:\n  " + problems.prefix(12).joined(separator: "\n  "))
    }
    state.epoch = Int(file.metadata["epoch"] ?? "") ?? 0
    state.batch = Int(file.metadata["batch"] ?? "") ?? 0
    state.step = Int(file.metadata["step"] ?? "") ?? 0
    state.bestMetric = Double(file.metadata["best_metric"] ?? "") ?? -.infinity
}
