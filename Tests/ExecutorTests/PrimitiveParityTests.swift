import Graph
import Testing

/// Small graphs that exercise one primitive each (several variants where attributes
/// matter). The switch is exhaustive, so a new primitive without a parity case does not
/// compile.
func primitiveGraphs(_ kind: Op.Kind) -> [Graph] {
    func unary(_ f: (Tensor) -> Tensor) -> Graph {
        let b = GraphBuilder()
        return b.finish([f(b.input("x", shape: [3, 4, 5]))])
    }
    func binary(_ f: (Tensor, Tensor) -> Tensor) -> Graph {
        let b = GraphBuilder()
        return b.finish([f(b.input("x", shape: [3, 4, 5]), b.input("y", shape: [3, 4, 5]))])
    }
    func single(_ shapes: [[Int]], _ f: ([Tensor]) -> Tensor) -> Graph {
        let b = GraphBuilder()
        return b.finish([f(shapes.enumerated().map { b.input("x\($0.offset)", shape: $0.element) })])
    }
    func conv(_ x: [Int], _ w: [Int], _ c: Conv2D) -> [Graph] {
        let y = [x[0], w[0], c.outputSize(x[2], kernel: w[2]), c.outputSize(x[3], kernel: w[2])]
        switch kind {
        case .conv2dInputGrad: return [single([y, w]) { conv2dInputGrad($0[0], $0[1], c, inputShape: x) }]
        case .conv2dFilterGrad: return [single([x, y]) { conv2dFilterGrad($0[0], $0[1], c, filterShape: w) }]
        default: return [single([x, w]) { conv2d($0[0], $0[1], c) }]
        }
    }
    func convVariants() -> [Graph] {
        conv([2, 3, 7, 7], [4, 3, 3, 3], Conv2D(stride: 1, padding: 1))
            + conv([2, 3, 8, 8], [4, 3, 3, 3], Conv2D(stride: 2, padding: 1))
            + conv([2, 4, 5, 5], [6, 4, 1, 1], Conv2D())
            + conv([1, 4, 6, 6], [4, 2, 3, 3], Conv2D(stride: 1, padding: 1, groups: 2))
            + conv([2, 4, 6, 6], [4, 1, 3, 3], Conv2D(stride: 2, padding: 1, groups: 4))
    }
    switch kind {
    case .input: return [unary { $0 }]
    case .constant: return [unary { $0 * $0.splat(2.5) }, single([[2, 3]]) { $0[0].splat(-1.5) }]
    case .neg: return [unary { -$0 }]
    case .exp: return [unary(exp)]
    case .log: return [unary(log)]
    case .sqrt: return [unary(sqrt)]
    case .relu: return [unary(relu)]
    case .step: return [unary { step($0) * $0 }]
    case .sign: return [unary { sign($0) * $0 }]
    case .stopGradient: return [unary { stopGradient($0) * $0 }]
    case .add: return [binary(+)]
    case .sub: return [binary(-)]
    case .mul: return [binary(*)]
    case .div: return [binary(/)]
    case .maximum: return [binary(maximum)]
    case .minimum: return [binary(minimum)]
    case .equal: return [binary { equal($0, maximum($0, $1)) * $1 }]
    case .broadcast:
        return [single([[3, 1, 5]]) { $0[0].broadcast(to: [3, 4, 5]) },
                single([[1, 4, 1, 1]]) { $0[0].broadcast(to: [2, 4, 3, 3]) }]
    case .sum:
        return [single([[3, 4, 5]]) { sum($0[0], axes: [0, 2]) },
                single([[2, 3, 4, 2, 4, 2]]) { sum($0[0], axes: [3, 5]) },
                single([[3, 4, 5]]) { sum($0[0], axes: [0, 1, 2]) }]
    case .max:
        return [single([[3, 4, 5]]) { max($0[0], axes: [1]) },
                single([[2, 3, 4, 2, 4, 2]]) { max($0[0], axes: [3, 5]) }]
    case .reshape: return [single([[3, 4, 5]]) { $0[0].reshaped([12, 5]) * $0[0].reshaped([12, 5]) }]
    case .transpose: return [single([[3, 4, 5]]) { $0[0].transposed([2, 0, 1]) }]
    case .matmul:
        return [(false, false), (true, false), (false, true), (true, true)].map { ta, tb in
            single([ta ? [4, 3] : [3, 4], tb ? [5, 4] : [4, 5]]) { matmul($0[0], $0[1], transposeA: ta, transposeB: tb) }
        }
    case .conv2d, .conv2dInputGrad, .conv2dFilterGrad: return convVariants()
    case .crossRankSum: return [unary { crossRankSum($0, ranks: 3) * $0 }]  // run with a ReplicatedGroup
    }
}

/// log and sqrt need positive operands; division a denominator away from zero.
func domain(_ kind: Op.Kind) -> (String) -> ClosedRange<Double> {
    switch kind {
    case .log, .sqrt: { _ in 0.5...2 }
    case .div: { $0 == "y" ? 0.5...2 : -1...1 }
    default: { _ in -1...1 }
    }
}

@Suite struct PrimitiveParity {
    @Test func everyPrimitiveAndItsDerivativesMatchTheReference() throws {
        var checked = 0
        for kind in Op.Kind.allCases {
            for (v, graph) in primitiveGraphs(kind).enumerated() {
                for (transform, g) in [("forward", graph), ("jvp", jvpOfAll(graph)), ("vjp", vjpOfAll(graph))] {
                    let error = try worstParityError(g, seed: UInt64(v + 1), range: domain(kind),
                                                     reduction: ReplicatedGroup(ranks: 3))
                    #expect(error <= 1e-4, "\(kind) variant \(v) \(transform): relative error \(error)")
                    checked += 1
                }
            }
        }
        #expect(checked >= 3 * Op.Kind.allCases.count)
    }

    @Test func unfusedPlansMatchToo() throws {
        for kind in [Op.Kind.exp, .div, .broadcast, .max, .conv2d] {
            for graph in primitiveGraphs(kind) {
                let error = try worstParityError(vjpOfAll(jvpOfAll(graph)), fuse: false, range: domain(kind))
                #expect(error <= 1e-4, "\(kind) unfused: relative error \(error)")
            }
        }
    }
}
