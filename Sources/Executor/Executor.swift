import Foundation
import Graph
import Kernels
import Planner

/// Runs a plan in Float32. Allocates its arena and scratch once at init; `run()` is a flat
/// loop over the schedule that allocates no tensor memory. (It is not malloc-free: a `perf`
/// uprobe on malloc shows small allocations inside `DispatchQueue.concurrentPerform` and
/// for the closure contexts of the two-worker loops, a few per parallel kernel call; a
/// worker pool of our own would remove them.) Inputs are written in place through
/// `inputBuffer(named:)` (parameters, data, noise), outputs read through `outputBuffer(_:)`.
///
/// Not thread-safe: one executor belongs to one training loop.
public final class Executor {
    public let plan: Plan
    private let arena: UnsafeMutablePointer<Float>
    private let scratch: UnsafeMutablePointer<Float>
    private let steps: [BoundStep]
    /// The blocked copies and scratchpad of the oneDNN steps (nil when there are none).
    private let oneDNNWorkspace: OneDNNWorkspace?
    private let inputIndex: [String: BufferRef]
    /// Convolutions oneDNN runs over channel-stacked operands (merged convolutions, one per
    /// output of a convolution group), for tests and profiles.
    public let oneDNNStackedConvolutions: Int
    /// The oneDNN primitives (one per shape, direction and stacking) the executor created,
    /// and how many of them run with bf16 inputs (`precision: .bf16`), for tests and logs.
    public let oneDNNPrimitives: Int, oneDNNBF16Primitives: Int
    /// When set, `run()` adds each step's wall time to `profile` under its primitive kind.
    public var profiling = false
    public private(set) var profile: [Op.Kind: (seconds: Double, steps: Int)] = [:]
    /// When profiling: wall seconds of each step of `plan.steps`, summed over runs.
    public private(set) var stepSeconds: [Double]
    /// The group size of the plan's `crossRankSum` steps (nil: it has none).
    public let crossRankSumRanks: Int?
    /// What runs the plan's `crossRankSum` steps (synchronised BatchNorm): injected by the
    /// caller, so that this module knows no transport. Required before `run()` when the plan
    /// has such steps, and of their group size. The executor calls it on the thread that
    /// calls `run()`, once per step in schedule order, with a slice of its arena (no copy,
    /// no allocation).
    public var crossRankReduction: (any CrossRankReduction)? {
        didSet {
            if let ranks = crossRankSumRanks, let given = crossRankReduction {
                precondition(given.ranks == ranks, "the plan sums across \(ranks) ranks, the reduction is over \(given.ranks)")
            }
        }
    }

    /// `oneDNN`: whether convolutions that `ConvShape.runsOnOneDNN` assigns to oneDNN run
    /// there (false: all on rat's kernels, for side-by-side comparisons); `stackedOneDNN`:
    /// whether merged convolutions and convolution groups do too (`OneDNNStacking.swift`);
    /// `precision`: the inputs of oneDNN's convolutions (`Precision`).
    public init(plan: Plan, oneDNN: Bool = true, stackedOneDNN: Bool = true, precision: Precision = .fp32) {
        precondition(fusedRegisterStride == ElementwiseProgram.registerStride && fusedWorkers == workerCount,
                     "planner and kernels disagree on the fused-kernel scratch layout")
        self.plan = plan
        let arena = Self.allocateAligned(plan.arenaFloats)
        self.arena = arena
        scratch = Self.allocateAligned(plan.scratchFloats)
        // Touch every page now so the first step does not pay for page faults, and so
        // inputs nobody feeds read as zeros.
        arena.initialize(repeating: 0, count: max(plan.arenaFloats, 1))
        scratch.initialize(repeating: 0, count: max(plan.scratchFloats, 1))
        let bound = plan.steps.map { bind($0, base: arena) }
        (steps, oneDNNWorkspace, oneDNNPrimitives, oneDNNBF16Primitives)
            = oneDNN ? substitutingOneDNN(bound, stacked: stackedOneDNN, precision: precision) : (bound, nil, 0, 0)
        for step in steps {
            switch step {
            case .conv2d(_, _, _, let s), .conv2dInputGrad(_, _, _, let s), .conv2dFilterGrad(_, _, _, let s):
                precondition(s.scratchElements <= plan.scratchFloats, "planner and kernels disagree on convolution scratch")
            case .mergedConv2d(_, _, _, let stacked, let s), .mergedConv2dInputGrad(_, _, _, let stacked, let s):
                precondition(stacked + s.scratchElements <= plan.scratchFloats, "planner and kernels disagree on convolution scratch")
            case .convolutionGroup(let problem):
                precondition(problem.scratchElements <= plan.scratchFloats, "planner and kernels disagree on convolution-group scratch")
            case .fused(_, _, let program, _), .fusedSum(_, _, let program, _):
                precondition(workerCount * program.registerElements <= plan.scratchFloats, "planner and kernels disagree on fused-kernel scratch")
            default: break
            }
        }
        stepSeconds = [Double](repeating: 0, count: plan.steps.count)
        crossRankSumRanks = steps.lazy.compactMap { step -> Int? in
            if case .crossRankSum(_, _, _, let ranks) = step { return ranks }
            return nil
        }.first
        var stacked = 0
        for step in steps { if case .oneDNNStacked(let convolutions) = step { stacked += convolutions.count } }
        oneDNNStackedConvolutions = stacked
        inputIndex = Dictionary(plan.inputs.map { ($0.name, $0.buffer) }, uniquingKeysWith: { a, _ in a })
    }

    deinit {
        for step in steps {
            if case .fused(let outputs, let table, _, _) = step { outputs.deallocate(); table.deallocate() }
            if case .fusedSum(_, let table, _, _) = step { table.deallocate() }
        }
        arena.deallocate()
        scratch.deallocate()
    }

    private static func allocateAligned(_ floats: Int) -> UnsafeMutablePointer<Float> {
        UnsafeMutableRawPointer.allocate(byteCount: 4 * max(floats, 16), alignment: 64).bindMemory(to: Float.self, capacity: max(floats, 16))
    }

    /// Names and shapes of everything the plan reads.
    public var inputs: [(name: String, shape: [Int])] { plan.inputs.map { ($0.name, $0.buffer.shape) } }

    /// The storage of an input, to write its value into before `run()`.
    public func inputBuffer(named name: String) throws -> UnsafeMutableBufferPointer<Float> {
        guard let ref = inputIndex[name] else { throw RunError.missingInput(name) }
        return UnsafeMutableBufferPointer(start: arena + ref.offset, count: ref.count)
    }

    /// Output i of the graph after `run()`; valid until the next run.
    public func outputBuffer(_ index: Int) -> UnsafeBufferPointer<Float> {
        let ref = plan.outputs[index]
        return UnsafeBufferPointer(start: arena + ref.offset, count: ref.count)
    }

    public func outputShape(_ index: Int) -> [Int] { plan.outputs[index].shape }

    /// Copies a value into an input after checking its shape.
    public func feed(_ name: String, shape: [Int], _ values: UnsafeBufferPointer<Float>) throws {
        guard let ref = inputIndex[name] else { throw RunError.missingInput(name) }
        guard ref.shape == shape, values.count == ref.count else {
            throw RunError.shapeMismatch(input: name, expected: ref.shape, got: shape)
        }
        (arena + ref.offset).update(from: values.baseAddress!, count: ref.count)
    }

    /// Feeds every input (all must be given, with their shapes), runs, returns copies of the outputs.
    public func run(feeding values: [String: (shape: [Int], values: [Float])]) throws -> [[Float]] {
        for (name, _) in inputs {
            guard let v = values[name] else { throw RunError.missingInput(name) }
            try v.values.withUnsafeBufferPointer { try feed(name, shape: v.shape, $0) }
        }
        run()
        return plan.outputs.indices.map { Array(outputBuffer($0)) }
    }

    /// Runs the schedule on the values currently in the input buffers.
    public func run() {
        precondition(crossRankSumRanks == nil || crossRankReduction != nil,
                     "the plan sums across \(crossRankSumRanks ?? 0) ranks (synchronised BatchNorm) and the executor has no CrossRankReduction")
        if !profiling {
            for step in steps { execute(step) }
            return
        }
        for (index, (step, planned)) in zip(steps, plan.steps).enumerated() {
            let start = DispatchTime.now().uptimeNanoseconds
            execute(step)
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
            stepSeconds[index] += seconds
            profile[planned.kind, default: (0, 0)].seconds += seconds
            profile[planned.kind, default: (0, 0)].steps += 1
        }
    }

    public func resetProfile() {
        profile = [:]
        for i in stepSeconds.indices { stepSeconds[i] = 0 }
    }

    @inline(__always)
    private func execute(_ step: BoundStep) {
        switch step {
        case .fill(let out, let value, let count):
            fill(out, value, count: count)
        case .fused(let outputs, let inputs, let program, let count):
            runElementwise(outputs: outputs, inputs, program, count: count, registers: scratch)
        case .fusedSum(let out, let inputs, let program, let count):
            sumElementwise(out, inputs, program, count: count, registers: scratch)
        case .gather(let out, let source, let layout):
            gatherAll(out, source, layout)
        case .reduce(let out, let source, let layout, let kind):
            reduce(out, source, layout, kind)
        case .matmul(let out, let a, let b, let m, let n, let k, let ta, let tb):
            matmulForward(out, a, b, m: m, n: n, k: k, transposeA: ta, transposeB: tb)
        case .conv2d(let y, let x, let w, let shape):
            conv2dForward(y, x, w, shape, scratch: scratch)
        case .conv2dInputGrad(let dx, let dy, let w, let shape):
            Kernels.conv2dInputGrad(dx, dy, w, shape, scratch: scratch)
        case .conv2dFilterGrad(let dw, let x, let dy, let shape):
            Kernels.conv2dFilterGrad(dw, x, dy, shape, scratch: scratch)
        case .mergedConv2d(let y, let x, let filters, let stackedFloats, let shape):
            stackAlongOutput(scratch, filters)
            conv2dForward(y, x, scratch, shape, scratch: scratch + stackedFloats)
        case .convolutionGroup(let problem):
            convolutionGroup(problem, scratch: scratch)
        case .mergedConv2dInputGrad(let dx, let dy, let filters, let stackedFloats, let shape):
            stackAlongInput(scratch, filters, outputs: shape.o)
            Kernels.conv2dInputGrad(dx, dy, scratch, shape, scratch: scratch + stackedFloats)
        case .oneDNN(let s):
            s.primitive.run(x: s.x, w: s.w, y: s.y, workspace: oneDNNWorkspace!.base)
        case .crossRankSum(let out, let source, let count, _):
            out.update(from: source, count: count)
            crossRankReduction!.sum(UnsafeMutableBufferPointer(start: out, count: count))
        case .oneDNNStacked(let convolutions):
            for c in convolutions { c.run(workspace: oneDNNWorkspace!.base) }
        }
    }
}
