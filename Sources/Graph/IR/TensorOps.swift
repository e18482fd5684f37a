/// The public construction API: thin functions that check shapes and append one primitive.
/// Binary operators broadcast numpy-style (shapes right-aligned, size-1 axes expand) by
/// inserting explicit `reshape`/`broadcast` nodes, so the primitives themselves stay simple.

// MARK: Elementwise, one operand

public func exp(_ x: Tensor) -> Tensor { x.builder.make(.exp, [x], shape: x.shape) }
public func log(_ x: Tensor) -> Tensor { x.builder.make(.log, [x], shape: x.shape) }
public func sqrt(_ x: Tensor) -> Tensor { x.builder.make(.sqrt, [x], shape: x.shape) }
public func relu(_ x: Tensor) -> Tensor { x.builder.make(.relu, [x], shape: x.shape) }
public func step(_ x: Tensor) -> Tensor { x.builder.make(.step, [x], shape: x.shape) }
public func sign(_ x: Tensor) -> Tensor { x.builder.make(.sign, [x], shape: x.shape) }
public func stopGradient(_ x: Tensor) -> Tensor { x.builder.make(.stopGradient, [x], shape: x.shape) }
public prefix func - (x: Tensor) -> Tensor { x.builder.make(.neg, [x], shape: x.shape) }

// MARK: Elementwise, two operands

/// Brings two tensors to one shape; a scalar splat constant is rebuilt at the target shape
/// rather than broadcast, so executors see a constant operand.
func broadcastPair(_ a: Tensor, _ b: Tensor) -> (Tensor, Tensor) {
    if a.shape == b.shape { return (a, b) }
    let rank = Swift.max(a.rank, b.rank)
    let pa = Array(repeating: 1, count: rank - a.rank) + a.shape
    let pb = Array(repeating: 1, count: rank - b.rank) + b.shape
    var target = [Int]()
    for (x, y) in zip(pa, pb) {
        precondition(x == y || x == 1 || y == 1, "shapes \(a.shape) and \(b.shape) do not broadcast")
        target.append(Swift.max(x, y))
    }
    return (a.broadcast(to: target), b.broadcast(to: target))
}

func binary(_ op: Op, _ a: Tensor, _ b: Tensor) -> Tensor {
    let (x, y) = broadcastPair(a, b)
    return a.builder.make(op, [x, y], shape: x.shape)
}

public func + (a: Tensor, b: Tensor) -> Tensor { binary(.add, a, b) }
public func - (a: Tensor, b: Tensor) -> Tensor { binary(.sub, a, b) }
public func * (a: Tensor, b: Tensor) -> Tensor { binary(.mul, a, b) }
public func / (a: Tensor, b: Tensor) -> Tensor { binary(.div, a, b) }
public func maximum(_ a: Tensor, _ b: Tensor) -> Tensor { binary(.maximum, a, b) }
public func minimum(_ a: Tensor, _ b: Tensor) -> Tensor { binary(.minimum, a, b) }
public func equal(_ a: Tensor, _ b: Tensor) -> Tensor { binary(.equal, a, b) }

extension Tensor {
    /// A splat constant of this tensor's shape.
    public func splat(_ value: Double) -> Tensor { builder.constant(value, shape: shape) }
}

public func + (a: Tensor, b: Double) -> Tensor { a + a.splat(b) }
public func + (a: Double, b: Tensor) -> Tensor { b.splat(a) + b }
public func - (a: Tensor, b: Double) -> Tensor { a - a.splat(b) }
public func - (a: Double, b: Tensor) -> Tensor { b.splat(a) - b }
public func * (a: Tensor, b: Double) -> Tensor { a * a.splat(b) }
public func * (a: Double, b: Tensor) -> Tensor { b.splat(a) * b }
public func / (a: Tensor, b: Double) -> Tensor { a * (1 / b) }
public func / (a: Double, b: Tensor) -> Tensor { b.splat(a) / b }

public func clamp(_ x: Tensor, min lo: Double, max hi: Double) -> Tensor {
    minimum(maximum(x, x.splat(lo)), x.splat(hi))
}

// MARK: Structure

extension Tensor {
    /// Expands size-1 axes (after left-padding the rank with 1s) to `target`.
    public func broadcast(to target: [Int]) -> Tensor {
        if shape == target { return self }
        if let v = constantValue { return builder.constant(v, shape: target) }
        var x = self
        if rank < target.count { x = reshaped(Array(repeating: 1, count: target.count - rank) + shape) }
        for (s, t) in zip(x.shape, target) { precondition(s == t || s == 1, "cannot broadcast \(shape) to \(target)") }
        return builder.make(.broadcast, [x], shape: target)
    }

    public func reshaped(_ newShape: [Int]) -> Tensor {
        precondition(newShape.reduce(1, *) == elementCount, "cannot reshape \(shape) to \(newShape)")
        if newShape == shape { return self }
        if let v = constantValue { return builder.constant(v, shape: newShape) }
        return builder.make(.reshape, [self], shape: newShape)
    }

    public func transposed(_ permutation: [Int]) -> Tensor {
        precondition(permutation.sorted() == Array(0..<rank), "bad permutation \(permutation) for rank \(rank)")
        if permutation == Array(0..<rank) { return self }
        return builder.make(.transpose(permutation: permutation), [self], shape: permutation.map { shape[$0] })
    }

    func reducedShape(_ axes: [Int]) -> [Int] {
        var s = shape
        for a in axes { s[a] = 1 }
        return s
    }
}

/// Sum over `axes`, keeping them as size 1. Empty `axes` sums nothing.
public func sum(_ x: Tensor, axes: [Int]) -> Tensor {
    let axes = axes.sorted()
    if axes.isEmpty || axes.allSatisfy({ x.shape[$0] == 1 }) { return x }
    return x.builder.make(.sum(axes: axes), [x], shape: x.reducedShape(axes))
}

/// Sum of every element, as a scalar (shape []).
public func sum(_ x: Tensor) -> Tensor { sum(x, axes: Array(0..<x.rank)).reshaped([]) }

public func mean(_ x: Tensor, axes: [Int]) -> Tensor {
    let count = axes.reduce(1) { $0 * x.shape[$1] }
    return sum(x, axes: axes) * (1 / Double(count))
}

public func max(_ x: Tensor, axes: [Int]) -> Tensor {
    let axes = axes.sorted()
    if axes.isEmpty || axes.allSatisfy({ x.shape[$0] == 1 }) { return x }
    return x.builder.make(.max(axes: axes), [x], shape: x.reducedShape(axes))
}

// MARK: Linear algebra

public func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false) -> Tensor {
    precondition(a.rank == 2 && b.rank == 2, "matmul takes 2-D operands, got \(a.shape) and \(b.shape)")
    let (m, k) = transposeA ? (a.shape[1], a.shape[0]) : (a.shape[0], a.shape[1])
    let (k2, n) = transposeB ? (b.shape[1], b.shape[0]) : (b.shape[0], b.shape[1])
    precondition(k == k2, "matmul inner sizes differ: \(a.shape)\(transposeA ? "ᵀ" : "") · \(b.shape)\(transposeB ? "ᵀ" : "")")
    return a.builder.make(.matmul(transposeA: transposeA, transposeB: transposeB), [a, b], shape: [m, n])
}

/// x[N,C,H,W] ⊛ w[O,C/groups,K,K] → [N,O,H',W'].
public func conv2d(_ x: Tensor, _ w: Tensor, _ attributes: Conv2D) -> Tensor {
    precondition(x.rank == 4 && w.rank == 4, "conv2d takes NCHW input and OIHW filter, got \(x.shape), \(w.shape)")
    let (n, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let (o, cg, k) = (w.shape[0], w.shape[1], w.shape[2])
    let g = attributes.groups
    precondition(w.shape[3] == k && c == cg * g && o % g == 0, "conv2d shapes \(x.shape) ⊛ \(w.shape) with groups \(g)")
    let shape = [n, o, attributes.outputSize(h, kernel: k), attributes.outputSize(wd, kernel: k)]
    return x.builder.make(.conv2d(attributes), [x, w], shape: shape)
}

/// dy[N,O,H',W'], w → dx of `inputShape`: the adjoint of conv2d in its input.
public func conv2dInputGrad(_ dy: Tensor, _ w: Tensor, _ attributes: Conv2D, inputShape: [Int]) -> Tensor {
    dy.builder.make(.conv2dInputGrad(attributes), [dy, w], shape: inputShape)
}

/// x, dy → dw of `filterShape`: the adjoint of conv2d in its filter.
public func conv2dFilterGrad(_ x: Tensor, _ dy: Tensor, _ attributes: Conv2D, filterShape: [Int]) -> Tensor {
    x.builder.make(.conv2dFilterGrad(attributes), [x, dy], shape: filterShape)
}
