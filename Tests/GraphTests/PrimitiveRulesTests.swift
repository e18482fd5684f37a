import Graph
import Testing

/// One sample computation per primitive kind: the operands' shapes, how to draw their
/// values, and how to build the op from them.
struct PrimitiveSample {
    var shapes: [[Int]]
    var positive = false          // operands must be > 0 (log, sqrt, divisor)
    /// What finite differences should see when the primitive's derivative is by definition
    /// not the difference quotient (stopGradient): built from the operands and a frozen
    /// copy of them, which keeps the base values under the ± probes.
    var surrogate: (([Tensor], [Tensor]) -> Tensor)? = nil
    /// What runs `crossRankSum` nodes (the collective's sample).
    var reduction: (any CrossRankReduction)? = nil
    var build: ([Tensor]) -> Tensor
}

/// The exhaustive switch (no default) means a new primitive does not compile until it has
/// a sample here, and so cannot ship untested.
func sample(_ kind: Op.Kind) -> [PrimitiveSample] {
    switch kind {
    case .input: [PrimitiveSample(shapes: [[3, 4]]) { $0[0] }]
    case .constant: [PrimitiveSample(shapes: [[3, 4]]) { $0[0] * $0[0].builder.constant(1.5, shape: [3, 4]) }]
    case .neg: [PrimitiveSample(shapes: [[3, 4]]) { -$0[0] }]
    case .exp: [PrimitiveSample(shapes: [[3, 4]]) { exp($0[0]) }]
    case .log: [PrimitiveSample(shapes: [[3, 4]], positive: true) { log($0[0]) }]
    case .sqrt: [PrimitiveSample(shapes: [[3, 4]], positive: true) { sqrt($0[0]) }]
    case .relu: [PrimitiveSample(shapes: [[4, 5]]) { relu($0[0]) }]
    case .step: [PrimitiveSample(shapes: [[4, 5]]) { step($0[0]) * $0[0] }]
    case .sign: [PrimitiveSample(shapes: [[4, 5]]) { sign($0[0]) * $0[0] }]
    case .stopGradient: [PrimitiveSample(shapes: [[3, 4]], surrogate: { x, frozen in frozen[0] * x[0] }) {
        stopGradient($0[0]) * $0[0]
    }]
    case .add: [PrimitiveSample(shapes: [[3, 4], [3, 4]]) { $0[0] + $0[1] }]
    case .sub: [PrimitiveSample(shapes: [[3, 4], [3, 4]]) { $0[0] - $0[1] }]
    case .mul: [PrimitiveSample(shapes: [[3, 4], [3, 4]]) { $0[0] * $0[1] }]
    case .div: [PrimitiveSample(shapes: [[3, 4], [3, 4]], positive: true) { $0[0] / $0[1] }]
    case .maximum: [PrimitiveSample(shapes: [[3, 4], [3, 4]]) { maximum($0[0], $0[1]) }]
    case .minimum: [PrimitiveSample(shapes: [[3, 4], [3, 4]]) { minimum($0[0], $0[1]) }]
    case .equal: [PrimitiveSample(shapes: [[3, 4], [3, 4]]) { equal($0[0], $0[0]) * $0[1] }]
    case .broadcast: [PrimitiveSample(shapes: [[3, 1, 2]]) { $0[0].broadcast(to: [3, 4, 2]) }]
    case .sum: [PrimitiveSample(shapes: [[3, 4, 5]]) { sum($0[0], axes: [0, 2]) },
                PrimitiveSample(shapes: [[3, 4, 5]]) { sum($0[0], axes: [1]) }]
    case .max: [PrimitiveSample(shapes: [[3, 4, 5]]) { max($0[0], axes: [1]) },
                PrimitiveSample(shapes: [[2, 3, 4, 2, 4, 2]]) { max($0[0], axes: [3, 5]) }]
    case .reshape: [PrimitiveSample(shapes: [[3, 4]]) { $0[0].reshaped([2, 6]) }]
    case .transpose: [PrimitiveSample(shapes: [[2, 3, 4]]) { $0[0].transposed([2, 0, 1]) }]
    case .matmul: [false, true].flatMap { ta in [false, true].map { tb in
        PrimitiveSample(shapes: [ta ? [4, 3] : [3, 4], tb ? [5, 4] : [4, 5]]) { matmul($0[0], $0[1], transposeA: ta, transposeB: tb) }
    } }
    case .conv2d: convolutions.map { (x, w, c) in PrimitiveSample(shapes: [x, w]) { conv2d($0[0], $0[1], c) } }
    case .conv2dInputGrad: convolutions.map { (x, w, c) in
        let y = [x[0], w[0], c.outputSize(x[2], kernel: w[2]), c.outputSize(x[3], kernel: w[2])]
        return PrimitiveSample(shapes: [y, w]) { conv2dInputGrad($0[0], $0[1], c, inputShape: x) }
    }
    case .conv2dFilterGrad: convolutions.map { (x, w, c) in
        let y = [x[0], w[0], c.outputSize(x[2], kernel: w[2]), c.outputSize(x[3], kernel: w[2])]
        return PrimitiveSample(shapes: [x, y]) { conv2dFilterGrad($0[0], $0[1], c, filterShape: w) }
    }
    // One process standing for a group of 3 that holds its values (the sum is 3·x); the real
    // two-rank check of the scaling is SyncBatchNormTests.
    case .crossRankSum: [PrimitiveSample(shapes: [[3, 4]], reduction: ReplicatedGroup(ranks: 3)) {
        crossRankSum($0[0], ranks: 3) * $0[0]
    }]
    }
}

/// Convolution variants: plain, strided and padded, grouped, depthwise.
let convolutions: [([Int], [Int], Conv2D)] = [
    ([2, 3, 5, 5], [4, 3, 3, 3], Conv2D()),
    ([2, 3, 6, 6], [4, 3, 3, 3], Conv2D(stride: 2, padding: 1)),
    ([1, 4, 5, 5], [6, 2, 3, 3], Conv2D(stride: 1, padding: 1, groups: 2)),
    ([2, 4, 6, 6], [4, 1, 3, 3], Conv2D(stride: 2, padding: 1, groups: 4)),
    ([1, 2, 4, 4], [3, 2, 1, 1], Conv2D(stride: 2)),
]

/// The checks one sample goes through, all in Double with random values:
/// JVP vs central differences; ⟨vjp(v), t⟩ = ⟨v, jvp(t)⟩; jvp∘jvp vs differences of the JVP;
/// and vjp∘jvp (the gradient of ⟨v, J t⟩) vs differences along t.
func checkRules(_ s: PrimitiveSample, seed: UInt64) throws -> [String: Double] {
    var rng = SplitMix64(seed: seed)
    let names = s.shapes.indices.map { "x\($0)" }
    let b = GraphBuilder()
    let y = s.build(zip(names, s.shapes).map { b.input($0, shape: $1) })
    let f = b.finish([y])
    let tangents = Dictionary(uniqueKeysWithValues: names.map { ($0, "t/\($0)") })
    // The graph finite differences probe: the sample itself, or its surrogate.
    let probed: Graph
    if let surrogate = s.surrogate {
        let sb = GraphBuilder()
        let operands = zip(names, s.shapes).map { sb.input($0, shape: $1) }
        let frozen = zip(names, s.shapes).map { sb.input("frozen/\($0)", shape: $1) }
        probed = sb.finish([surrogate(operands, frozen)])
    } else {
        probed = f
    }

    var x = [String: DTensor]()
    for (n, shape) in zip(names, s.shapes) {
        x[n] = s.positive ? DTensor.uniform(shape, in: 0.5...2, &rng) : DTensor.normal(shape, &rng)
        x["t/\(n)"] = DTensor.normal(shape, &rng)
        x["frozen/\(n)"] = x[n]
    }
    let v = DTensor.normal(y.shape, &rng)
    let h = 1e-6
    func shifted(_ by: Double) -> [String: DTensor] {
        var moved = x
        for n in names { moved[n] = x[n]!.adding(x["t/\(n)"]!, scaledBy: by) }
        return moved
    }
    func central(_ g: Graph, output: Int) throws -> DTensor {
        let up = try evaluateReference(g, inputs: shifted(h), reduction: s.reduction)[output]
        let down = try evaluateReference(g, inputs: shifted(-h), reduction: s.reduction)[output]
        return DTensor(shape: up.shape, data: zip(up.data, down.data).map { ($0 - $1) / (2 * h) })
    }

    var errors = [String: Double]()
    // Forward mode.
    let jf = jvp(f, tangents: tangents)
    let jy = try evaluateReference(jf, inputs: x, reduction: s.reduction)[1]
    errors["jvp"] = relativeError(jy, try central(probed, output: 0))

    // Reverse mode: the adjoint identity, with the cotangent v fed as an input.
    let lb = GraphBuilder(f)
    let vIn = lb.input("v", shape: y.shape)
    let pairing = lb.finish([sum(lb.tensor(f.outputs[0]) * vIn)])
    let gradients = try evaluateReference(vjp(pairing, of: 0, wrt: names), inputs: x.merging(["v": v]) { a, _ in a },
                                          reduction: s.reduction)
    let vjpSide = zip(names, gradients.dropFirst()).reduce(0) { $0 + $1.1.dot(x["t/\($1.0)"]!) }
    let jvpSide = v.dot(jy)
    errors["adjoint"] = abs(vjpSide - jvpSide) / Swift.max(abs(vjpSide), abs(jvpSide), 1e-12)

    // Second order: jvp∘jvp along the same tangent vs differences of the JVP.
    let jjf = jvp(jf, tangents: tangents)
    let second = try evaluateReference(jjf, inputs: x, reduction: s.reduction)[3]
    let probedJ = jvp(probed, tangents: tangents)
    errors["jvp∘jvp"] = relativeError(second, try central(probedJ, output: 1))

    // Reverse over forward: ∇⟨v, J t⟩ · t vs differences of ⟨v, J t⟩.
    let jb = GraphBuilder(jf)
    let jvIn = jb.input("v", shape: y.shape)
    let tangentPairing = jb.finish([sum(jb.tensor(jf.outputs[1]) * jvIn)])
    let nested = try evaluateReference(vjp(tangentPairing, of: 0, wrt: names), inputs: x.merging(["v": v]) { a, _ in a },
                                       reduction: s.reduction)
    let analytic = zip(names, nested.dropFirst()).reduce(0) { $0 + $1.1.dot(x["t/\($1.0)"]!) }
    let pb = GraphBuilder(probedJ)
    let probedPairing = pb.finish([sum(pb.tensor(probedJ.outputs[1]) * pb.input("v", shape: y.shape))])
    var withV = x
    withV["v"] = v
    func pairingAt(_ by: Double) throws -> Double {
        var moved = withV
        for n in names { moved[n] = x[n]!.adding(x["t/\(n)"]!, scaledBy: by) }
        return try evaluateReference(probedPairing, inputs: moved, reduction: s.reduction)[0].data[0]
    }
    let numeric = (try pairingAt(h) - pairingAt(-h)) / (2 * h)
    errors["vjp∘jvp"] = abs(numeric - analytic) / Swift.max(abs(numeric), abs(analytic), 1e-8)
    return errors
}

@Test("every primitive's JVP, VJP and their nestings agree with finite differences",
      arguments: Op.Kind.allCases)
func primitiveRules(kind: Op.Kind) throws {
    let samples = sample(kind)
    #expect(!samples.isEmpty)
    for (i, s) in samples.enumerated() {
        let errors = try checkRules(s, seed: UInt64(7 + i))
        for (check, error) in errors.sorted(by: { $0.key < $1.key }) {
            #expect(error < 1e-6, "\(kind) sample \(i): \(check) relative error \(error)")
        }
    }
}
