import Executor
import Graph
import Planner
import Testing

/// Sibling fusion (Planner/FusedSiblings.swift): elementwise expressions that read the same
/// buffers run as one pass with several outputs, and compute exactly what separate passes do.
@Suite struct FusedSiblings {
    static func fusedOutputCounts(_ p: Plan) -> [Int] {
        p.steps.compactMap { if case .fused = $0.operation { $0.allOutputs.count } else { nil } }
    }

    /// a = relu(x·s) is read by two consumers (so it is stored); b and c read x, y and s as
    /// a does; d needs a reduction of x first, so it can only join a pass after that.
    static func siblingGraph() -> Graph {
        let b = GraphBuilder()
        let shape = [2, 3, 20, 20]
        let x = b.input("x", shape: shape), y = b.input("y", shape: shape), s = b.input("s", shape: [1, 3, 1, 1])
        let scale = s.broadcast(to: shape)
        let a = relu(x * scale)
        let bOut = a * y + x
        let c = x - y * scale
        let total = sum(x * x, axes: [0, 2, 3]).reshaped([1, 3, 1, 1]).broadcast(to: shape)
        let d = (x + total) * y
        return b.finish([a, bOut, c, d, a * 2])
    }

    static func outputs(_ graph: Graph, siblings: Bool) throws -> [[Float]] {
        let feeds = randomFeeds(graph, seed: 5, range: ModelParity.range)
        let executor = Executor(plan: plan(graph, fuseSiblings: siblings))
        return try executor.run(feeding: feeds.mapValues { ($0.shape, $0.data.map { Float($0) }) })
    }

    @Test func siblingsRunAsOnePassAndMatchSeparatePasses() throws {
        let graph = Self.siblingGraph()
        let joined = Self.fusedOutputCounts(plan(graph, fuseSiblings: true)), separate = Self.fusedOutputCounts(plan(graph))
        #expect(separate.allSatisfy { $0 == 1 })
        #expect(joined.contains { $0 >= 3 }, "a, b and c (and a·2) share x, y, s: one pass, got \(joined)")
        #expect(joined.reduce(0, +) == separate.reduce(0, +), "every expression still has its output")
        #expect(joined.count < separate.count)
        let (a, b) = (try Self.outputs(graph, siblings: true), try Self.outputs(graph, siblings: false))
        for (j, s) in zip(a, b) { #expect(j == s, "the same operations in the same order: identical bits") }
    }

    /// The whole small-cnn Taylor gradient graph, where nested forward mode makes the most
    /// siblings: fewer passes, the same values as separate passes.
    @Test func taylorGraphSiblingsMatchSeparatePasses() throws {
        let graph = ModelParity.taylorGradientGraph(ModelParity.forward(.train))
        let (joined, separate) = (plan(graph, fuseSiblings: true), plan(graph))
        #expect(Self.fusedOutputCounts(joined).count < Self.fusedOutputCounts(separate).count)
        let (a, b) = (try Self.outputs(graph, siblings: true), try Self.outputs(graph, siblings: false))
        for (j, s) in zip(a, b) { #expect(relativeError(j, s.map(Double.init)) <= 1e-6) }
    }

    /// BatchNorm's sums in train mode and its backward (Σ dy, Σ dy·x̂ per channel), a sum over
    /// every axis and one over 8×8 planes (too short to fuse): summed as computed where the
    /// walk allows, and the same values as storing then reducing, and as the Double reference.
    @Test func summedExpressionsMatchStoredOnes() throws {
        let b = GraphBuilder()
        let shape = [4, 3, 16, 16]
        let x = b.input("x", shape: shape), dy = b.input("dy", shape: shape), g = b.input("g", shape: [1, 3, 1, 1])
        let centred = x - sum(x, axes: [0, 2, 3]).broadcast(to: shape) * (1.0 / 1024)
        let perChannel = sum(dy * centred * g.broadcast(to: shape), axes: [0, 2, 3])
        let total = sum(relu(dy + x))
        let small = b.input("small", shape: [2, 3, 8, 8])
        let short = sum(small * small, axes: [0, 2, 3])
        let graph = b.finish([perChannel, total, short])
        let summedSteps = { (p: Plan) in p.steps.filter { if case .fusedSum = $0.operation { true } else { false } }.count }
        #expect(summedSteps(plan(graph)) == 2, "the per-channel sum of dy·x̂·g and the full sum of relu(dy + x)")
        #expect(summedSteps(plan(graph, fuseSums: false)) == 0)
        #expect(try worstParityError(graph, range: ModelParity.range) <= 1e-5)
        let feeds = randomFeeds(graph, seed: 8, range: ModelParity.range).mapValues { ($0.shape, $0.data.map { Float($0) }) }
        let fused = try Executor(plan: plan(graph)).run(feeding: feeds)
        let stored = try Executor(plan: plan(graph, fuseSums: false)).run(feeding: feeds)
        for (f, s) in zip(fused, stored) { #expect(relativeError(f, s.map(Double.init)) <= 1e-6) }
    }
}
