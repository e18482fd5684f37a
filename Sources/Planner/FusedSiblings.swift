import Graph

// Sibling fusion. Fusion inlines an elementwise node into its only consumer; a node read by
// several consumers is stored, and each consumer's pass reads it again. Nested forward mode
// makes many such siblings: the y, ẏ, ÿ streams through a BatchNorm and their adjoints all
// read x̂, ẋ̂, ẍ̂ and the same per-channel statistics, each in its own pass over memory. Here a
// fused step joins an earlier fused step of the same output shape that reads a buffer it
// reads (or writes one it reads), when everything it reads is ready by then: one pass, with
// several outputs, where the shared buffers come from memory once per chunk.
// Off by default (`plan(_:fuseSiblings:)`): it moves a third fewer floats in the Taylor step,
// but on a quiet machine the step was no faster and trades 8 % slower (docs/performance.md,
// "Lever 4"); it won only while other processes contended for memory.

/// How far back (in steps) a fused step looks for a sibling to join, and how large a merged
/// program may grow (its registers are per-worker scratch).
let siblingWindow = 12
let siblingMaximumInstructions = 96
/// The most full-size buffers (operands and outputs) a merged pass may stream: each chunk of
/// each one takes 2 KB of L1 beside the registers.
let siblingMaximumStreams = 6

/// `steps` (with buffers still named by their owner node) with fused siblings merged. A step
/// joins the earlier one in place: it runs sooner, never later, so everything that reads its
/// output still comes after it.
func mergingFusedSiblings(_ steps: [(node: Int, step: Step)]) -> [(node: Int, step: Step)] {
    var merged = [(node: Int, step: Step)]()
    var writtenBy = [Int: Int]()   // owner node → index in `merged` of the step that writes it
    for entry in steps {
        if case .fused = entry.step.operation,
           let (target, joined) = stride(from: merged.count - 1, through: max(0, merged.count - siblingWindow), by: -1).lazy
               .compactMap({ t in joining(entry.step, into: merged[t].step, at: t, writtenBy: writtenBy).map { (t, $0) } }).first {
            merged[target].step = joined
            for output in entry.step.allOutputs { writtenBy[output.offset] = target }
            continue
        }
        merged.append(entry)
        for output in entry.step.allOutputs { writtenBy[output.offset] = merged.count - 1 }
    }
    return merged
}

/// `target` with `step`'s expression added as one more output, or nil when they are not
/// siblings: not both fused, different output shapes, nothing read in common, something
/// `step` reads not ready at `target`'s place, or the program too long.
private func joining(_ step: Step, into target: Step, at position: Int, writtenBy: [Int: Int]) -> Step? {
    guard case .fused(let instructions, let results) = step.operation, results.count == 1,
          case .fused(let targetInstructions, let targetResults) = target.operation,
          step.output.shape == target.output.shape,
          targetInstructions.count + instructions.count <= siblingMaximumInstructions
    else { return nil }
    let targetOutputs = target.allOutputs.map(\.offset)
    let shared = step.operands.contains { target.operands.contains($0) || targetOutputs.contains($0.offset) }
    guard shared, step.operands.allSatisfy({ (writtenBy[$0.offset] ?? -1) <= position }) else { return nil }

    // The step's operands in the joined program: the target's own operand, a value the
    // target computes (read back from its output), or a new operand.
    var operands = target.operands
    enum Mapped { case operand(Int), result(Int) }
    var mapped = [Mapped]()
    for operand in step.operands {
        if let j = targetOutputs.firstIndex(of: operand.offset) {
            mapped.append(.result(targetResults[j]))
        } else if let k = operands.firstIndex(of: operand) {
            mapped.append(.operand(k))
        } else {
            operands.append(operand)
            mapped.append(.operand(operands.count - 1))
        }
    }
    let offset = targetInstructions.count
    func source(_ s: FusedSource) -> FusedSource {
        switch s {
        case .operand(let k):
            switch mapped[k] {
            case .operand(let j): .operand(j)
            case .result(let r): .result(r)
            }
        case .result(let r): .result(r + offset)
        case .constant: s
        }
    }
    var appended = [FusedInstruction]()
    for instruction in instructions {
        switch instruction {
        case .broadcast(let k):
            guard case .operand(let j) = mapped[k] else { return nil }   // broadcasts read small operands only
            appended.append(.broadcast(operand: j))
        case .apply(let op, let sources):
            appended.append(.apply(op, sources.map(source)))
        }
    }
    let streams = operands.filter { $0.count == step.output.count }.count + target.allOutputs.count + 1
    guard streams <= siblingMaximumStreams else { return nil }
    var joined = target
    joined.operation = .fused(targetInstructions + appended, results: targetResults + [offset + results[0]])
    joined.additionalOutputs.append(step.output)
    joined.operands = operands
    joined.flops += step.flops
    return joined
}
