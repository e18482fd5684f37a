import Executor
import Foundation
import Graph
import Planner

/// Deterministic random numbers (SplitMix64) so failures reproduce.
struct SeededRandom {
    var state: UInt64
    init(_ seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func uniform(_ range: ClosedRange<Double>) -> Double {
        range.lowerBound + (range.upperBound - range.lowerBound) * Double(next() >> 11) / Double(1 << 53)
    }
}

/// Values for every input of a graph, representable in Float32 so that both backends see
/// the same numbers. `range(name)` picks each input's interval.
func randomFeeds(_ graph: Graph, seed: UInt64,
                 range: (String) -> ClosedRange<Double> = { _ in -1...1 }) -> [String: DTensor] {
    var rng = SeededRandom(seed)
    var feeds = [String: DTensor]()
    for (name, node) in graph.inputs {
        let shape = graph.nodes[node].shape
        let r = range(name)
        feeds[name] = DTensor(shape: shape, data: (0..<shape.reduce(1, *)).map { _ in Double(Float(rng.uniform(r))) })
    }
    return feeds
}

/// ‖a − b‖ / ‖b‖ over all elements; an exactly-zero reference needs ‖a‖ ≤ 1e-6.
func relativeError(_ fast: [Float], _ reference: [Double]) -> Double {
    var difference = 0.0, norm = 0.0
    for (a, b) in zip(fast, reference) {
        difference += (Double(a) - b) * (Double(a) - b)
        norm += b * b
    }
    return norm == 0 ? (difference.squareRoot() <= 1e-6 ? 0 : .infinity) : (difference / norm).squareRoot()
}

/// The largest relative error over the outputs of the Float32 executor against the Double
/// reference, on one random feed.
func worstParityError(_ graph: Graph, seed: UInt64 = 1, fuse: Bool = true,
                      range: (String) -> ClosedRange<Double> = { _ in -1...1 },
                      reduction: (any CrossRankReduction)? = nil) throws -> Double {
    let feeds = randomFeeds(graph, seed: seed, range: range)
    let reference = try evaluateReference(graph, inputs: feeds, reduction: reduction)
    let executor = Executor(plan: plan(graph, fuse: fuse))
    executor.crossRankReduction = reduction
    let fast = try executor.run(feeding: feeds.mapValues { ($0.shape, $0.data.map { Float($0) }) })
    var worst = 0.0
    for (f, r) in zip(fast, reference) {
        precondition(f.count == r.count, "output sizes differ")
        worst = max(worst, relativeError(f, r.data))
    }
    return worst
}

/// A graph's jvp along every input (tangent inputs named "d.<input>").
func jvpOfAll(_ graph: Graph) -> Graph {
    jvp(graph, tangents: Dictionary(uniqueKeysWithValues: graph.inputs.map { ($0.name, "d." + $0.name) }))
}

/// The gradient of ⟨output 0, r⟩ (r a random cotangent input) with respect to every input.
func vjpOfAll(_ graph: Graph) -> Graph {
    let names = graph.inputs.map(\.name)
    let builder = GraphBuilder(graph)
    let y = builder.tensor(graph.outputs[0])
    let r = builder.input("cotangent", shape: y.shape)
    let loss = sum(y * r)
    return vjp(builder.finish([loss]), wrt: names)
}

/// A group of `ranks` in which every rank holds this process's values, so the cross-rank sum
/// is ranks·x: what `crossRankSum` computes when one process stands for the whole group.
final class ReplicatedGroup: CrossRankReduction {
    let ranks: Int
    init(ranks: Int) { self.ranks = ranks }
    func sum(_ values: UnsafeMutableBufferPointer<Float>) { for i in values.indices { values[i] *= Float(ranks) } }
    func sum(_ values: UnsafeMutableBufferPointer<Double>) { for i in values.indices { values[i] *= Double(ranks) } }
}
