import Foundation
import Graph
import Models
import Testing

// Synchronised BatchNorm without MPI: two ranks on two threads of this process, each with
// half of a batch's rows, all-reduce through an in-process rendezvous. Their graphs must
// compute what one process computes on the whole batch: values, forward-mode tangents
// (through the statistics), gradients with the data-parallel average, and the nested
// second-order terms; the gradient also matches finite differences of the two-rank loss.

/// Two ranks meeting in this process: each `allReduce` waits for the other rank's call of
/// the same generation, and both get slot 0 + slot 1 (one order, so both get the same bits).
final class TwoRankRendezvous: @unchecked Sendable {
    private let condition = NSCondition()   // guards everything below
    private var pending: [[Double]?] = [nil, nil]
    private var result: [Double] = []
    private var generation = 0

    func allReduce(_ values: UnsafeMutableBufferPointer<Double>, rank: Int) {
        condition.lock()
        defer { condition.unlock() }
        let mine = generation
        pending[rank] = Array(values)
        if let a = pending[0], let b = pending[1] {
            precondition(a.count == b.count, "the ranks all-reduce different sizes: \(a.count) and \(b.count)")
            result = zip(a, b).map { $0 + $1 }
            pending = [nil, nil]
            generation += 1
            condition.broadcast()
        } else {
            while generation == mine { condition.wait() }
        }
        _ = values.update(fromContentsOf: result)
    }
}

/// One rank's view of the rendezvous, as the graph modules see a reduction.
final class RendezvousRank: CrossRankReduction {
    let group: TwoRankRendezvous
    let rank: Int
    init(_ group: TwoRankRendezvous, rank: Int) { (self.group, self.rank) = (group, rank) }
    var ranks: Int { 2 }
    func sum(_ values: UnsafeMutableBufferPointer<Double>) { group.allReduce(values, rank: rank) }
    func sum(_ values: UnsafeMutableBufferPointer<Float>) {
        var wide = values.map(Double.init)
        wide.withUnsafeMutableBufferPointer { group.allReduce($0, rank: rank) }
        for i in values.indices { values[i] = Float(wide[i]) }
    }
}

/// A group of `ranks` in which every rank holds this process's values (the sum is ranks·x):
/// one process standing for the group, for the exhaustive primitive checks.
final class ReplicatedGroup: CrossRankReduction {
    let ranks: Int
    init(ranks: Int) { self.ranks = ranks }
    func sum(_ values: UnsafeMutableBufferPointer<Float>) { for i in values.indices { values[i] *= Float(ranks) } }
    func sum(_ values: UnsafeMutableBufferPointer<Double>) { for i in values.indices { values[i] *= Double(ranks) } }
}

/// The two ranks' results, written by their threads under the lock.
final class RankResults<T>: @unchecked Sendable {
    let lock = NSLock()
    var results: [Result<T, any Error>?] = [nil, nil]
}

/// Runs `body(rank, reduction)` on two threads at once (a rank's all-reduce blocks until the
/// other's), returning both results in rank order.
func onTwoRanks<T: Sendable>(_ body: @escaping @Sendable (Int, any CrossRankReduction) throws -> T) throws -> [T] {
    let group = TwoRankRendezvous(), slots = RankResults<T>(), done = DispatchSemaphore(value: 0)
    for rank in 0..<2 {
        Thread {
            let result = Result { try body(rank, RendezvousRank(group, rank: rank)) }
            slots.lock.withLock { slots.results[rank] = result }
            done.signal()
        }.start()
    }
    done.wait()
    done.wait()
    return try slots.lock.withLock { slots.results }.map { try $0!.get() }
}

/// conv 3×3 → BatchNorm (train mode, synchronised over `ranks`) → relu, and a loss that is
/// a mean over this graph's rows, as every training loss is: L = (1/n)·Σ_rows ⟨relu(bn), r⟩.
/// Outputs: loss, activations [n,4,4,4], the BN batch mean and variance [4].
func convBatchNormGraph(rows n: Int, ranks: Int) -> Graph {
    let builder = GraphBuilder()
    let scope = Scope(builder: builder, mode: .train(synchronizedOver: ranks))
    let x = builder.input("x", shape: [n, 3, 4, 4])
    let y = relu(batchNorm(conv2d(x, scope, "conv", out: 4, kernel: 3, padding: 1), scope, "bn"))
    let loss = sum(y * builder.input("r", shape: y.shape)) * (1 / Double(n))
    let statistics = scope.statistics[0]
    return builder.finish([loss, y, statistics.mean, statistics.variance])
}

struct SyncBatchNormCase {
    static let batch = 8
    static let parameters = ["conv.weight", "bn.weight", "bn.bias"]
    var feeds: [String: DTensor]   // the whole batch: x [8,3,4,4], r [8,4,4,4], parameters, tangents

    init(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        feeds = ["x": .normal([Self.batch, 3, 4, 4], &rng), "r": .normal([Self.batch, 4, 4, 4], &rng),
                 "conv.weight": .normal([4, 3, 3, 3], scale: 0.3, &rng),
                 "bn.weight": DTensor.normal([4], scale: 0.1, &rng).map { 1 + $0 }, "bn.bias": .normal([4], scale: 0.1, &rng),
                 "t/x": .normal([Self.batch, 3, 4, 4], &rng), "t/conv.weight": .normal([4, 3, 3, 3], &rng),
                 "t/bn.weight": .normal([4], &rng)]
    }

    /// Rank `rank`'s feeds: its half of the rows of x, r and x's tangent, the rest as they are.
    func share(_ rank: Int) -> [String: DTensor] {
        feeds.mapValues { value in
            guard value.shape.first == Self.batch else { return value }
            let rowSize = value.count / Self.batch, half = Self.batch / 2
            return DTensor(shape: [half] + value.shape.dropFirst(),
                           data: Array(value.data[rank * half * rowSize..<(rank + 1) * half * rowSize]))
        }
    }

    /// One process on the whole batch, and two ranks on their halves of it.
    func run(_ transform: (Graph) -> Graph) throws -> (whole: [DTensor], ranks: [[DTensor]]) {
        let whole = try evaluateReference(transform(convBatchNormGraph(rows: Self.batch, ranks: 1)), inputs: feeds)
        let split = transform(convBatchNormGraph(rows: Self.batch / 2, ranks: 2))
        let shares = [share(0), share(1)]
        let ranks = try onTwoRanks { rank, reduction in
            try evaluateReference(split, inputs: shares[rank], reduction: reduction)
        }
        return (whole, ranks)
    }
}

func concatenatingRows(_ a: DTensor, _ b: DTensor) -> DTensor {
    DTensor(shape: [a.shape[0] + b.shape[0]] + a.shape.dropFirst(), data: a.data + b.data)
}

func average(_ a: DTensor, _ b: DTensor) -> DTensor { a.adding(b, scaledBy: 1).map { $0 / 2 } }

@Suite struct SyncBatchNorm {
    let example = SyncBatchNormCase(seed: 14)

    @Test("one rank builds the single-process graph node for node; two ranks add two all-reduces per BN layer")
    func graphsPerGroupSize() {
        let plain = convBatchNormGraph(rows: 8, ranks: 1)
        let builder = GraphBuilder()
        let scope = Scope(builder: builder, mode: .train)
        let x = builder.input("x", shape: [8, 3, 4, 4])
        let y = relu(batchNorm(conv2d(x, scope, "conv", out: 4, kernel: 3, padding: 1), scope, "bn"))
        let loss = sum(y * builder.input("r", shape: y.shape)) * (1 / 8.0)
        let reference = builder.finish([loss, y, scope.statistics[0].mean, scope.statistics[0].variance])
        #expect(plain.nodes == reference.nodes && plain.outputs == reference.outputs)
        #expect(plain.countsByKind[.crossRankSum] == nil)
        #expect(convBatchNormGraph(rows: 4, ranks: 2).countsByKind[.crossRankSum] == 2)  // mean and variance
    }

    @Test("values: activations, loss and batch statistics of two halves equal the whole batch's")
    func values() throws {
        let (whole, ranks) = try example.run { $0 }
        #expect(relativeError(average(ranks[0][0], ranks[1][0]), whole[0]) < 1e-12)
        #expect(relativeError(concatenatingRows(ranks[0][1], ranks[1][1]), whole[1]) < 1e-12)
        for output in [2, 3] {
            #expect(relativeError(ranks[0][output], whole[output]) < 1e-12, "statistic \(output) on rank 0")
            #expect(ranks[0][output] == ranks[1][output], "the ranks' statistics differ")
        }
    }

    @Test("vjp: the ranks' average gradient is the whole batch's; x's gradient is R times its rows' share")
    func gradients() throws {
        let (whole, ranks) = try example.run { vjp($0, of: 0, wrt: SyncBatchNormCase.parameters + ["x"]) }
        for (k, name) in SyncBatchNormCase.parameters.enumerated() {
            let slot = 4 + k
            #expect(relativeError(average(ranks[0][slot], ranks[1][slot]), whole[slot]) < 1e-10, "∂L/∂\(name)")
            // Only the average is the whole batch's gradient, not a rank's own (no pass by accident).
            #expect(relativeError(ranks[0][slot], whole[slot]) > 1e-6, "\(name): rank 0 alone already has the average")
        }
        let xGradient = concatenatingRows(ranks[0][7], ranks[1][7]).map { $0 / 2 }
        #expect(relativeError(xGradient, whole[7]) < 1e-10, "∂L/∂x")
    }

    @Test("jvp through the statistics: first and second order tangents of the activations and the loss")
    func tangents() throws {
        let tangents = ["x": "t/x", "conv.weight": "t/conv.weight", "bn.weight": "t/bn.weight"]
        let (whole, ranks) = try example.run { jvp(jvp($0, tangents: tangents), tangents: tangents) }
        // Outputs of jvp∘jvp: 4 primals, 4 first-order tangents, then (after the duplicated
        // first-order stream) the 4 second-order tangents.
        for order in 1...2 {
            let base = order == 1 ? 4 : 12
            #expect(relativeError(average(ranks[0][base], ranks[1][base]), whole[base]) < 1e-10, "order \(order) loss")
            #expect(relativeError(concatenatingRows(ranks[0][base + 1], ranks[1][base + 1]), whole[base + 1]) < 1e-10,
                    "order \(order) activations")
            #expect(relativeError(ranks[0][base + 2], whole[base + 2]) < 1e-10, "order \(order) batch mean")
            #expect(relativeError(ranks[1][base + 3], whole[base + 3]) < 1e-10, "order \(order) batch variance")
        }
    }

    @Test("reverse over forward over forward (the 2nd-order Taylor term's gradient) averages to the whole batch's")
    func secondOrderGradient() throws {
        let tangents = ["conv.weight": "t/conv.weight", "bn.weight": "t/bn.weight"]
        let parameters = SyncBatchNormCase.parameters
        let (whole, ranks) = try example.run { graph in
            let second = jvp(jvp(graph, tangents: tangents), tangents: tangents)
            let builder = GraphBuilder(second)
            let term = builder.finish([builder.tensor(second.outputs[12])])   // uᵀHu of the loss
            return vjp(term, of: 0, wrt: parameters)
        }
        for (k, name) in parameters.enumerated() {
            #expect(relativeError(average(ranks[0][1 + k], ranks[1][1 + k]), whole[1 + k]) < 1e-9, "∂(uᵀHu)/∂\(name)")
        }
    }

    @Test("the two-rank gradient matches central differences of the two-rank loss (Double, h = 1e-7)")
    func finiteDifferences() throws {
        let parameters = SyncBatchNormCase.parameters
        let split = convBatchNormGraph(rows: SyncBatchNormCase.batch / 2, ranks: 2)
        let gradientGraph = vjp(split, of: 0, wrt: parameters)
        let shares = [example.share(0), example.share(1)]
        var rng = SplitMix64(seed: 99)
        let direction = Dictionary(uniqueKeysWithValues: parameters.map { name in
            (name, DTensor.normal(example.feeds[name]!.shape, &rng))
        })
        let h = 1e-7
        // The data-parallel objective: the mean of the ranks' losses at w + s·direction.
        func loss(at s: Double) throws -> Double {
            let losses = try onTwoRanks { rank, reduction in
                var moved = shares[rank]
                for (name, d) in direction { moved[name] = moved[name]!.adding(d, scaledBy: s) }
                return try evaluateReference(split, inputs: moved, reduction: reduction)[0].data[0]
            }
            return (losses[0] + losses[1]) / 2
        }
        let numeric = (try loss(at: h) - loss(at: -h)) / (2 * h)
        let gradients = try onTwoRanks { rank, reduction in
            try evaluateReference(gradientGraph, inputs: shares[rank], reduction: reduction)
        }
        let analytic = parameters.enumerated().reduce(0.0) { total, entry in
            total + average(gradients[0][4 + entry.offset], gradients[1][4 + entry.offset]).dot(direction[entry.element]!)
        }
        #expect(abs(numeric - analytic) / max(abs(analytic), 1e-8) < 1e-6, "numeric \(numeric), analytic \(analytic)")
    }
}
