import Checkpoints
import Foundation
import Models
import Testing
import Training

// The checkpoint layout (docs/checkpoints.md): the weights file is a PyTorch state_dict,
// momentum sits in `<name>.optim.safetensors`, and loading refuses what would silently
// give wrong numbers.

/// A model's initial state, as `rat eval` builds it: eval-mode parameters and BN buffers.
func zooState(_ name: String, options: [String: Int] = [:], input: [Int] = [1, 3, 32, 32], seed: UInt64 = 1) throws
    -> (state: TrainState, parameters: [ParameterInfo], buffers: [BufferInfo]) {
    let model = try ModelZoo.make(name: name, options: options, classes: 10, inputShape: input)
    let forward = model.forwardGraph(inputShape: input, mode: .eval)
    return (TrainState(parameters: forward.parameters, buffers: forward.buffers, seed: seed), forward.parameters, forward.buffers)
}

/// A state whose every tensor (momentum and BN buffers included) differs from a fresh one's.
func trainedLooking(_ state: TrainState, step: Int) -> TrainState {
    var state = state
    for (name, values) in state.momentum { state.momentum[name] = values.indices.map { Float($0 % 7) * 0.25 - 0.5 } }
    for (name, values) in state.buffers { state.buffers[name] = values.indices.map { Float($0 % 5) * 0.125 + 0.5 } }
    (state.epoch, state.batch, state.step, state.bestMetric) = (2, 3, step, 0.625)
    return state
}

func scratchFolder(_ tag: String) throws -> String {
    let path = temporaryFolder("ckpt-\(tag)")
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

func loadError(_ path: String, into state: TrainState, requireMomentum: Bool = false) -> String? {
    var copy = state
    return errorText { try loadCheckpoint(path, into: &copy, requireMomentum: requireMomentum) }
}

func bits(_ values: [Float]?) -> [UInt32] { (values ?? []).map(\.bitPattern) }

@Test("a rat checkpoint is a PyTorch state_dict: names, real shapes, I64 num_batches_tracked, bit-equal values",
      arguments: ["small-cnn", "preact-resnet18"])
func stateDictLayout(model: String) throws {
    let folder = try scratchFolder("layout")
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let (fresh, parameters, buffers) = try zooState(model)
    let state = trainedLooking(fresh, step: 17)
    try saveCheckpoint(state, to: folder + "/best.safetensors", metadata: ["selected_by": "pgd20 on val"])

    let weights = try SafeTensors.read(path: folder + "/best.safetensors")
    let layers = Set(buffers.map { $0.name.split(separator: ".").dropLast().joined(separator: ".") })
    #expect(layers.count == buffers.count / 2 && !layers.isEmpty)
    let expectedNames = parameters.map(\.name) + buffers.map(\.name) + layers.map { "\($0).num_batches_tracked" }
    #expect(Set(weights.names) == Set(expectedNames) && weights.count == expectedNames.count)
    for info in parameters {
        #expect(try weights.shape(info.name) == info.shape && weights.dtype(info.name) == .float32, "\(info.name)")
        #expect(bits(try weights.float32(info.name)) == bits(state.parameters[info.name]), "\(info.name)")
    }
    for info in buffers {
        #expect(try weights.shape(info.name) == info.shape, "\(info.name)")
        #expect(bits(try weights.float32(info.name)) == bits(state.buffers[info.name]), "\(info.name)")
    }
    // PyTorch's layouts, spelled out for one convolution and the classifier.
    let convolution = parameters.first(where: { $0.name.hasSuffix("conv1.weight") })!
    #expect(try weights.shape(convolution.name).count == 4)
    let classifier = parameters.last(where: { $0.name.hasSuffix(".weight") && $0.shape.count == 2 })!
    #expect(classifier.shape[0] == 10)
    for layer in layers {
        let counter = try weights.tensor("\(layer).num_batches_tracked")
        let count = try weights.int64("\(layer).num_batches_tracked")
        #expect(counter.dtype == .int64 && counter.shape == [] && count == [17], "\(layer)")
    }
    #expect(weights.metadata["step"] == "17" && weights.metadata["epoch"] == "2" && weights.metadata["selected_by"] == "pgd20 on val")

    // Momentum lives beside, in the same shapes, with the same position.
    let optimizer = try SafeTensors.read(path: folder + "/best.optim.safetensors")
    #expect(Set(optimizer.names) == Set(parameters.map { "momentum/\($0.name)" }))
    #expect(optimizer.metadata["step"] == "17" && optimizer.metadata["batch"] == "3")
    for info in parameters { #expect(try optimizer.shape("momentum/\(info.name)") == info.shape) }

    // And it loads back, bit for bit, for resume.
    var restored = fresh
    try loadCheckpoint(folder + "/best.safetensors", into: &restored, requireMomentum: true)
    for info in parameters {
        #expect(bits(restored.parameters[info.name]) == bits(state.parameters[info.name]), "\(info.name)")
        #expect(bits(restored.momentum[info.name]) == bits(state.momentum[info.name]), "momentum of \(info.name)")
    }
    for info in buffers { #expect(bits(restored.buffers[info.name]) == bits(state.buffers[info.name]), "\(info.name)") }
    #expect(restored.step == 17 && restored.epoch == 2 && restored.batch == 3 && restored.bestMetric == 0.625)
}

@Test("a checkpoint in rat's first layout (flat tensors, momentum inside) still loads for eval and resume")
func legacyFlatCheckpoint() throws {
    let folder = try scratchFolder("legacy")
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let (fresh, _, _) = try zooState("small-cnn")
    let state = trainedLooking(fresh, step: 5)
    var legacy = SafeTensors(metadata: ["format": CheckpointFormat.legacy, "epoch": "2", "batch": "3", "step": "5",
                                        "best_metric": "0.625"])
    for name in state.parameters.keys.sorted() {
        try legacy.add(name, float32: state.parameters[name]!, shape: [state.parameters[name]!.count])
        try legacy.add("momentum/\(name)", float32: state.momentum[name]!, shape: [state.momentum[name]!.count])
    }
    for name in state.buffers.keys.sorted() { try legacy.add(name, float32: state.buffers[name]!, shape: [state.buffers[name]!.count]) }
    try legacy.write(to: folder + "/last.safetensors")

    var evaluated = fresh
    try loadCheckpoint(folder + "/last.safetensors", into: &evaluated, requireMomentum: false)
    #expect(evaluated.parameters == state.parameters && evaluated.buffers == state.buffers)
    var resumed = fresh
    try loadCheckpoint(folder + "/last.safetensors", into: &resumed, requireMomentum: true)
    #expect(resumed.momentum == state.momentum && resumed.step == 5)
    #expect(resumed.momentum != fresh.momentum)
}

@Test("the optimizer state is its own file; resume needs it, evaluation does not; a step mismatch is refused")
func optimizerStateFile() throws {
    let folder = try scratchFolder("optim")
    defer { try? FileManager.default.removeItem(atPath: folder) }
    #expect(optimizerStatePath(forWeights: "run/last.safetensors") == "run/last.optim.safetensors")
    let (fresh, _, _) = try zooState("small-cnn")
    let last = folder + "/last.safetensors", optim = folder + "/last.optim.safetensors"
    try saveCheckpoint(trainedLooking(fresh, step: 8), to: last)
    let weightNames = try SafeTensors.read(path: last).names
    #expect(!weightNames.contains(where: { $0.hasPrefix("momentum/") }))

    // A crash between the two renames: the optimizer file of step 9 beside the weights of step 8.
    let weightsOfStep8 = try Data(contentsOf: URL(fileURLWithPath: last))
    try saveCheckpoint(trainedLooking(fresh, step: 9), to: last)
    try weightsOfStep8.write(to: URL(fileURLWithPath: last))
    let mismatch = loadError(last, into: fresh, requireMomentum: true)
    #expect(mismatch?.contains(optim) == true && mismatch?.contains(last) == true, "\(mismatch ?? "no error")")
    #expect(mismatch?.contains("step 9") == true && mismatch?.contains("step 8") == true, "\(mismatch ?? "no error")")
    #expect(loadError(last, into: fresh) == nil)

    try FileManager.default.removeItem(atPath: optim)
    let absent = loadError(last, into: fresh, requireMomentum: true)
    #expect(absent?.contains("'\(optim)', which does not exist") == true, "\(absent ?? "no error")")
    #expect(loadError(last, into: fresh) == nil)

    // Without optimizer state only the weights are written.
    try saveCheckpoint(fresh, to: folder + "/best.safetensors", withOptimizerState: false)
    #expect(!FileManager.default.fileExists(atPath: folder + "/best.optim.safetensors"))
}

@Test("NaN or infinite weights are refused, naming the tensor and the count")
func nonFiniteWeightsRefused() throws {
    let folder = try scratchFolder("nan")
    defer { try? FileManager.default.removeItem(atPath: folder) }
    var (state, _, _) = try zooState("small-cnn")
    state.parameters["conv2.weight"]![3] = .nan
    state.parameters["conv2.weight"]![40] = .infinity
    state.buffers["bn1.running_var"]![0] = -.infinity
    try saveCheckpoint(state, to: folder + "/bad.safetensors")
    let text = loadError(folder + "/bad.safetensors", into: state)
    #expect(text?.contains("conv2.weight: 2 of \(state.parameters["conv2.weight"]!.count) values are NaN or infinite") == true,
            "\(text ?? "no error")")
    #expect(text?.contains("bn1.running_var: 1 of") == true, "\(text ?? "no error")")
    #expect(text?.contains("conv1.weight") == false)
}

@Test("an integer or 8-bit-float tensor for a float parameter is refused, naming tensor and dtype")
func integerWeightsRefused() throws {
    let folder = try scratchFolder("int")
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let (state, _, _) = try zooState("small-cnn")
    try saveCheckpoint(state, to: folder + "/ok.safetensors")
    var file = try SafeTensors.read(path: folder + "/ok.safetensors")
    let shape = try file.shape("fc.weight")
    file.remove("fc.weight")
    try file.add("fc.weight", int64: [Int64](repeating: 1, count: shape.reduce(1, *)), shape: shape)
    let biasShape = try file.shape("bn3.bias")
    file.remove("bn3.bias")
    try file.add("bn3.bias", dtype: .float8E4M3, shape: biasShape, bytes: [UInt8](repeating: 0, count: biasShape.reduce(1, *)))
    try file.write(to: folder + "/int.safetensors")
    let text = loadError(folder + "/int.safetensors", into: state)
    #expect(text?.contains("fc.weight: dtype I64 is an integer type") == true, "\(text ?? "no error")")
    #expect(text?.contains("bn3.bias: dtype F8_E4M3") == true, "\(text ?? "no error")")
}

@Test("a checkpoint of another shape lists missing, unexpected and mis-shaped names, capped")
func mismatchListed() throws {
    let folder = try scratchFolder("mismatch")
    defer { try? FileManager.default.removeItem(atPath: folder) }
    // Saved from a 100-class small CNN, loaded into a 10-class one; a few names renamed.
    let model = try ModelZoo.make(name: "small-cnn", options: [:], classes: 100, inputShape: [1, 3, 32, 32])
    let forward = model.forwardGraph(inputShape: [1, 3, 32, 32], mode: .eval)
    try saveCheckpoint(TrainState(parameters: forward.parameters, buffers: forward.buffers, seed: 1), to: folder + "/c100.safetensors")
    var file = try SafeTensors.read(path: folder + "/c100.safetensors")
    for name in ["conv1.weight", "bn1.weight", "bn1.bias", "bn2.weight", "bn2.bias", "bn3.weight", "bn3.bias",
                 "bn1.running_mean", "bn1.running_var", "bn2.running_mean"] {
        let tensor = file.remove(name)!
        try file.add("module.\(name)", dtype: tensor.dtype, shape: tensor.shape, bytes: tensor.bytes)
    }
    try file.write(to: folder + "/renamed.safetensors")
    let (state, _, _) = try zooState("small-cnn")
    let text = loadError(folder + "/renamed.safetensors", into: state) ?? "no error"
    #expect(text.contains("does not fit this model"), "\(text)")
    #expect(text.contains("missing (10): bn1.bias,") && text.contains("… and 2 more"), "\(text)")
    #expect(text.contains("unexpected (10): module."), "\(text)")
    #expect(text.contains("DataParallel's 'module.' prefix"), "\(text)")
    #expect(text.contains("fc.weight: 12800 values of shape [100, 128] in the file, [10, 128] (1280 values) in the model"), "\(text)")
    #expect(text.contains("fc.bias: 100 values of shape [100]"), "\(text)")
    // A flat tensor is a mis-shape outside rat's legacy layout.
    try saveCheckpoint(state, to: folder + "/ok.safetensors")
    var flat = try SafeTensors.read(path: folder + "/ok.safetensors")
    let weight = flat.remove("conv1.weight")!
    try flat.add("conv1.weight", dtype: .float32, shape: [weight.elementCount], bytes: weight.bytes)
    try flat.write(to: folder + "/flat.safetensors")
    #expect(loadError(folder + "/flat.safetensors", into: state)?.contains("conv1.weight: 864 values of shape [864]") == true)
}

@Test("a PyTorch export loads: F64/F16/BF16 converted, num_batches_tracked of any integer dtype, TRADES sub_block1 ignored")
func pytorchExportLoads() throws {
    let folder = try scratchFolder("pytorch")
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let (state, parameters, buffers) = try zooState("wide-resnet", options: ["depth": 10, "width": 1])
    // Values BF16 and F16 hold exactly, so the conversion can be checked bit for bit.
    func rounded(_ values: [Float]) -> [Float] { values.map { Float(bitPattern: $0.bitPattern & 0xFFFF_0000) } }
    var export = SafeTensors(metadata: ["format": "pt"])
    var expected = [String: [Float]]()
    for (index, info) in parameters.enumerated() {
        let values = rounded(state.parameters[info.name]!)
        expected[info.name] = values
        switch index % 3 {
        case 0: try export.add(info.name, float64: values.map(Double.init), shape: info.shape)
        case 1: try export.add(info.name, dtype: .bfloat16, shape: info.shape,
                               bytes: values.flatMap { v -> [UInt8] in
                                   let half = UInt16(v.bitPattern >> 16)
                                   return [UInt8(half & 0xFF), UInt8(half >> 8)]
                               })
        default: try export.add(info.name, float32: values, shape: info.shape)
        }
        // The reference's unused block, as `model.state_dict()` holds it.
        if info.name.hasPrefix("block1.") {
            try export.add("sub_" + info.name, float32: values, shape: info.shape)
        }
    }
    for info in buffers {
        let count = info.shape.reduce(1, *)
        // F16 1.5 is 0x3E00.
        try export.add(info.name, dtype: .float16, shape: info.shape,
                       bytes: Array(repeating: [0x00, 0x3E] as [UInt8], count: count).flatMap { $0 })
        expected[info.name] = [Float](repeating: 1.5, count: count)
        if info.name.hasSuffix("running_mean") {
            let layer = String(info.name.dropLast("running_mean".count))
            try export.add(layer + "num_batches_tracked", dtype: .int32, shape: [], bytes: [7, 0, 0, 0])
        }
    }
    try export.write(to: folder + "/theirs.safetensors")
    var loaded = state
    try loadCheckpoint(folder + "/theirs.safetensors", into: &loaded, requireMomentum: false)
    for info in parameters { #expect(bits(loaded.parameters[info.name]) == bits(expected[info.name]), "\(info.name)") }
    for info in buffers { #expect(loaded.buffers[info.name] == expected[info.name], "\(info.name)") }

    // sub_block1 is the reference's only; any other stray name is not ignored.
    try export.add("sub_block2.weight", float32: [1], shape: [1])
    try export.write(to: folder + "/stray.safetensors")
    let text = loadError(folder + "/stray.safetensors", into: state)
    #expect(text?.contains("unexpected (1): sub_block2.weight") == true, "\(text ?? "no error")")
}
