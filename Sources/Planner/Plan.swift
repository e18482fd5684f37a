import CMachine
import Graph

/// A graph compiled for the executor: a flat schedule of steps over buffers at fixed
/// offsets of one arena. Built once; run many times.
public struct Plan: Sendable {
    /// The simplified graph the steps compute (node indices in steps refer to it).
    public var graph: Graph
    public var steps: [Step]
    /// Every input of the original graph, with its buffer.
    public var inputs: [(name: String, buffer: BufferRef)]
    /// One buffer per graph output.
    public var outputs: [BufferRef]
    /// Floats of the arena that holds inputs and every intermediate (reused by liveness).
    public var arenaFloats: Int
    /// Floats of per-step scratch (im2col columns, fused-kernel registers).
    public var scratchFloats: Int
    /// Floating-point operations of one run.
    public var flops: Int
    public var countsBefore: [Op.Kind: Int]
    public var countsAfter: [Op.Kind: Int]

    /// Bytes the executor allocates: arena plus scratch.
    public var arenaBytes: Int { 4 * (arenaFloats + scratchFloats) }
}

/// A dense Float32 buffer in the arena: an offset in floats (64-byte aligned) and a shape.
public struct BufferRef: Hashable, Sendable {
    public var offset: Int
    public var shape: [Int]
    public var count: Int { shape.reduce(1, *) }
}

public struct Step: Sendable {
    public var operation: Operation
    public var output: BufferRef
    /// Outputs after the first of a merged step (one per merged node).
    public var additionalOutputs: [BufferRef] = []
    public var operands: [BufferRef]
    /// The primitive kind for profiles; fused steps report their root's kind.
    public var kind: Op.Kind
    public var flops: Int
}

public enum Operation: Sendable {
    /// Every element of the output equals the value (a constant something needs in memory).
    case fill(Double)
    /// Fused elementwise expressions over the operands (all of the output's shape, except
    /// that `.broadcast` instructions expand theirs): output k (`allOutputs[k]`) is the value
    /// of instruction `results[k]`. Several outputs when sibling expressions that read the
    /// same buffers were merged into one pass (`FusedSiblings.swift`).
    case fused([FusedInstruction], results: [Int])
    /// A fused elementwise expression of `shape` (its value is the last instruction's) summed
    /// instead of stored: `shape` walked as [outer, kept, plane], the outer and plane axes
    /// reduced (BatchNorm's per-channel sums: kept C, plane H·W). The output holds `kept` sums.
    case fusedSum([FusedInstruction], shape: [Int], plane: Int, kept: Int)
    /// One non-elementwise primitive (broadcast, sum, max, transpose, matmul, convolutions).
    case primitive(Op)
    /// Several conv2d (or conv2dInputGrad) nodes sharing their first operand, as one
    /// convolution with stacked filters: operands are the shared one then each node's
    /// filter; `output` and `additionalOutputs` are the nodes' outputs in order.
    case mergedConvolution(Op)
    /// Sums of convolutions over shared operands (see `ConvolutionGroups.swift`): operands
    /// are the group's slots then its filters; outputs are the sums in order.
    case convolutionGroup(ConvolutionGroup)
}

public extension Step {
    var allOutputs: [BufferRef] { [output] + additionalOutputs }
}

public extension Plan {
    /// The memory traffic of one run's elementwise passes and reductions (fused steps, fused
    /// sums, sums and maxima): how many passes, and the floats they read (each operand once per
    /// pass) and write.
    var elementwiseTraffic: (passes: Int, reads: Int, writes: Int) {
        var traffic = (passes: 0, reads: 0, writes: 0)
        for step in steps {
            switch step.operation {
            case .fused, .fusedSum, .primitive(.sum), .primitive(.max):
                traffic.passes += 1
                traffic.reads += step.operands.reduce(0) { $0 + $1.count }
                traffic.writes += step.allOutputs.reduce(0) { $0 + $1.count }
            default: break
            }
        }
        return traffic
    }
}

public enum FusedInstruction: Hashable, Sendable {
    /// Operand k, whose shape has size-1 axes, expanded to the output's shape.
    case broadcast(operand: Int)
    /// An elementwise primitive applied to earlier results, operands or constants.
    case apply(Op, [FusedSource])
}

public enum FusedSource: Hashable, Sendable {
    case operand(Int)
    case result(Int)
    case constant(Double)
}

/// Floats per fused-kernel register (a chunk plus padding) and the number of workers, as in `Kernels`; the
/// executor checks that they agree. The worker count is the process's (RAT_WORKERS, else the
/// CPUs it may run on), read by the same C function as `Kernels.workerCount`.
public let fusedRegisterStride = 528
public let fusedWorkers = Int(rat_worker_count())

/// Compiles a graph: simplification (CSE, folding, DCE), elementwise fusion, convolution
/// groups (sums of convolutions over shared operands, `ConvolutionGroups.swift`), merging of
/// the remaining convolutions that share an operand, a schedule in topological order and an
/// arena layout from buffer lifetimes. `groupSums: false` leaves sums of convolutions to the
/// primitives (for A/B benchmarks); `mergeConvolutions: false` turns off both passes;
/// `fuseSiblings: true` merges sibling expressions into passes with several outputs (off by
/// default: on the quiet machine it measured 0.98–1.09× the time of separate passes, though it
/// moves 12–25 % fewer floats; it won 0.93× only while other processes contended for memory,
/// docs/performance.md); `fuseSums: false` stores every summed expression before its sum.
public func plan(_ original: Graph, fuse: Bool = true, mergeConvolutions: Bool = true, groupSums: Bool = true,
                 fuseSiblings: Bool = false, fuseSums: Bool = true) -> Plan {
    let graph = simplify(original)
    let nodes = graph.nodes
    var consumers = [[Int]](repeating: [], count: nodes.count)
    for (i, node) in nodes.enumerated() { for j in node.inputs { consumers[j].append(i) } }
    var isOutput = [Bool](repeating: false, count: nodes.count)
    for o in graph.outputs { isOutput[o] = true }
    let groups = mergeConvolutions && groupSums ? convolutionGroups(nodes, consumers: consumers, isOutput: isOutput) : []
    return plan(graph, original: original, consumers: consumers, isOutput: isOutput, groups: groups,
                fuse: fuse, mergeConvolutions: mergeConvolutions, fuseSiblings: fuseSiblings, fuseSums: fuseSums)
}

private func plan(_ graph: Graph, original: Graph, consumers: [[Int]], isOutput: [Bool], groups: [PlannedGroup],
                  fuse: Bool, mergeConvolutions: Bool, fuseSiblings: Bool, fuseSums: Bool) -> Plan {
    let nodes = graph.nodes
    // Nodes a convolution group computes (its sums' outputs are stored, never inlined).
    var grouped = [Bool](repeating: false, count: nodes.count)
    var groupAt = [Int: PlannedGroup]()
    for g in groups {
        for i in g.replaced { grouped[i] = true }
        groupAt[g.first] = g
    }
    let groupOutputs = Set(groups.flatMap(\.outputs))

    func isConstant(_ i: Int) -> Bool { nodes[i].op.kind == .constant }
    // An elementwise node used once, by another elementwise node, is computed inside it.
    var inlined = [Bool](repeating: false, count: nodes.count)
    // A broadcast read only by elementwise nodes is a gather inside them.
    var virtualBroadcast = [Bool](repeating: false, count: nodes.count)
    for i in nodes.indices where fuse && !isOutput[i] && !groupOutputs.contains(i) {
        let byElementwise = !consumers[i].isEmpty && consumers[i].allSatisfy { nodes[$0].op.isElementwise }
        if nodes[i].op.isElementwise && consumers[i].count == 1 && byElementwise { inlined[i] = true }
        if nodes[i].op.kind == .broadcast && byElementwise { virtualBroadcast[i] = true }
    }

    // An elementwise node read only by a sum over [outer, plane] axes is summed as it is
    // computed, never stored (`Operation.fusedSum`).
    var summedPlanes = [Int: (plane: Int, kept: Int)]()   // sum node → its walk
    for i in nodes.indices where fuse && fuseSums {
        guard case .sum(let axes) = nodes[i].op, let j = nodes[i].inputs.first, nodes[j].op.isElementwise,
              consumers[j] == [i], !isOutput[j], !groupOutputs.contains(j), !grouped[j],
              let walk = summedWalk(nodes[j].shape, axes: axes) else { continue }
        summedPlanes[i] = walk
    }
    let summedAway = Set(summedPlanes.keys.map { nodes[$0].inputs[0] })

    let mergeGroups = mergeConvolutions ? convolutionMergeGroups(nodes, excluding: grouped) : [:]
    var mergedIntoEarlier = [Bool](repeating: false, count: nodes.count)
    for members in mergeGroups.values { for j in members { mergedIntoEarlier[j] = true } }

    // Storage: which node's buffer holds each node's value (reshape aliases its operand).
    var storage = Array(nodes.indices)
    var steps = [(node: Int, step: Step)]()
    // Until the arena is laid out, a BufferRef's offset holds the node that owns the storage.
    func ref(_ i: Int) -> BufferRef { BufferRef(offset: storage[i], shape: nodes[i].shape) }

    /// The fused program of elementwise node `root`: its operands (buffers read), its
    /// instructions (the root's value last) and FLOPs. Inlined nodes and virtual broadcasts
    /// are computed inside it.
    func fusedExpression(_ root: Int) -> (instructions: [FusedInstruction], operands: [BufferRef], flops: Int) {
        var operands = [BufferRef]()
        var instructions = [FusedInstruction]()
        func operand(_ j: Int) -> Int {
            let r = ref(j)
            if let k = operands.firstIndex(of: r) { return k }
            operands.append(r)
            return operands.count - 1
        }
        var flops = 0
        func emit(_ j: Int) -> FusedSource {
            if case .constant(let v) = nodes[j].op { return .constant(v) }
            if virtualBroadcast[j] {
                let k = operand(nodes[j].inputs[0])
                if let r = instructions.firstIndex(of: .broadcast(operand: k)) { return .result(r) }
                instructions.append(.broadcast(operand: k))
                return .result(instructions.count - 1)
            }
            if j != root && !inlined[j] { return .operand(operand(j)) }
            let sources = nodes[j].inputs.map(emit)
            instructions.append(.apply(nodes[j].op, sources))
            flops += nodes[j].elementCount
            return .result(instructions.count - 1)
        }
        _ = emit(root)
        return (instructions, operands, flops)
    }

    for (i, node) in nodes.enumerated() {
        switch node.op {
        case .input:
            continue
        case .reshape:
            storage[i] = storage[node.inputs[0]]
            continue
        case .constant(let v):
            let needed = isOutput[i] || consumers[i].contains { !nodes[$0].op.isElementwise }
            if needed { steps.append((i, Step(operation: .fill(v), output: ref(i), operands: [], kind: .constant, flops: 0))) }
            continue
        default:
            break
        }
        if let g = groupAt[i] {
            let flops = g.group.outputs.reduce(0) { total, terms in
                total + Set(terms.map(\.slot)).count * primitiveFlops(nodes[g.replaced.first { nodes[$0].op == g.group.op }!], nodes)
            }
            steps.append((i, Step(operation: .convolutionGroup(g.group), output: ref(g.outputs[0]),
                                  additionalOutputs: g.outputs.dropFirst().map(ref), operands: g.operands.map(ref),
                                  kind: node.op.kind, flops: flops)))
            continue
        }
        if inlined[i] || virtualBroadcast[i] || mergedIntoEarlier[i] || grouped[i] || summedAway.contains(i) { continue }
        if let members = mergeGroups[i] {
            let group = [i] + members
            steps.append((i, Step(operation: .mergedConvolution(node.op), output: ref(i),
                                  additionalOutputs: members.map(ref),
                                  operands: [ref(node.inputs[0])] + group.map { ref(nodes[$0].inputs[1]) },
                                  kind: node.op.kind, flops: group.reduce(0) { $0 + primitiveFlops(nodes[$1], nodes) })))
        } else if node.op.isElementwise {
            let (instructions, operands, flops) = fusedExpression(i)
            steps.append((i, Step(operation: .fused(instructions, results: [instructions.count - 1]), output: ref(i),
                                  operands: operands, kind: node.op.kind, flops: flops)))
        } else if let walk = summedPlanes[i] {
            let j = node.inputs[0]
            let (instructions, operands, flops) = fusedExpression(j)
            steps.append((i, Step(operation: .fusedSum(instructions, shape: nodes[j].shape, plane: walk.plane, kept: walk.kept),
                                  output: ref(i),
                                  operands: operands, kind: node.op.kind, flops: flops + nodes[j].elementCount)))
        } else {
            steps.append((i, Step(operation: .primitive(node.op), output: ref(i), operands: node.inputs.map(ref),
                                  kind: node.op.kind, flops: primitiveFlops(node, nodes))))
        }
    }

    if fuse && fuseSiblings { steps = mergingFusedSiblings(steps) }

    // Lifetimes, in step indices; inputs and outputs live for the whole run.
    let end = steps.count
    var lastUse = [Int](repeating: -1, count: nodes.count)
    for (s, entry) in steps.enumerated() {
        for r in entry.step.operands + entry.step.allOutputs { lastUse[r.offset] = max(lastUse[r.offset], s) }
    }
    for o in graph.outputs { lastUse[storage[o]] = end }

    var arena = ArenaAllocator()
    var offset = [Int](repeating: -1, count: nodes.count)
    var inputs = [(name: String, buffer: BufferRef)]()
    for (i, node) in nodes.enumerated() {
        if case .input(let name) = node.op {
            offset[i] = arena.allocate(node.elementCount)
            inputs.append((name, BufferRef(offset: offset[i], shape: node.shape)))
        }
    }
    var freeAfter = [[Int]](repeating: [], count: end + 1)
    for i in nodes.indices where lastUse[i] >= 0 && nodes[i].op.kind != .input { freeAfter[lastUse[i]].append(i) }
    for (s, entry) in steps.enumerated() {
        for owner in entry.step.allOutputs.map(\.offset) where offset[owner] < 0 {
            offset[owner] = arena.allocate(nodes[owner].elementCount)
        }
        for i in freeAfter[s] { arena.free(offset[i], nodes[i].elementCount) }
    }
    func resolve(_ r: BufferRef) -> BufferRef { BufferRef(offset: offset[r.offset], shape: r.shape) }
    let finalSteps = steps.map { entry -> Step in
        var step = entry.step
        step.output = resolve(step.output)
        step.additionalOutputs = step.additionalOutputs.map(resolve)
        step.operands = step.operands.map(resolve)
        return step
    }
    let outputs = graph.outputs.map { resolve(ref($0)) }

    var scratch = 0
    for step in finalSteps {
        switch step.operation {
        case .fused(let instructions, _): scratch = max(scratch, fusedWorkers * fusedRegisterStride * instructions.count)
        case .fusedSum(let instructions, _, _, let kept):
            // The registers, one chunk to sum from, and the worker's partial sums.
            scratch = max(scratch, fusedWorkers * (fusedRegisterStride * (instructions.count + 1) + (kept + 15) / 16 * 16))
        case .primitive(let op): scratch = max(scratch, convolutionScratch(op, step))
        case .mergedConvolution(let op): scratch = max(scratch, mergedConvolutionScratch(op, step))
        case .convolutionGroup(let g): scratch = max(scratch, convolutionGroupScratch(g, step))
        case .fill: break
        }
    }
    return Plan(graph: graph, steps: finalSteps, inputs: inputs, outputs: outputs,
                arenaFloats: arena.top, scratchFloats: scratch, flops: finalSteps.reduce(0) { $0 + $1.flops },
                countsBefore: original.countsByKind, countsAfter: graph.countsByKind)
}

/// A sum of `shape` over `axes` as [outer, kept, plane] — reduced axes, then kept ones,
/// then reduced ones (size-1 axes ignored) — when it has that form and its planes hold at
/// least 256 elements, else nil. Shorter planes make chunks that short (8×8 planes: 64); at
/// 64 the A/B under load was unresolved, so they keep the stored pass.
func summedWalk(_ shape: [Int], axes: [Int]) -> (plane: Int, kept: Int)? {
    var phase = 0   // 0: leading reduced axes, 1: kept axes, 2: trailing reduced axes
    var (kept, plane) = (1, 1)
    for (axis, size) in shape.enumerated() where size != 1 {
        let reduced = axes.contains(axis)
        if phase == 0 && !reduced { phase = 1 }
        if phase == 1 && reduced { phase = 2 }
        if phase == 2 && !reduced { return nil }
        if phase == 1 { kept *= size }
        if phase == 2 { plane *= size }
    }
    if phase == 0 { (kept, plane) = (1, shape.reduce(1, *)) }   // every axis reduced
    return plane >= 256 ? (plane, kept) : nil
}
