/// The closed set of primitives. Every model, loss, attack and Taylor term is a composition
/// of these; derivative code exists only for them (see `Rules/`).
///
/// Dimension letters used throughout rat: N batch, C channels (input), O output channels,
/// H height, W width, K kernel size, M rows / N columns of a matrix product.
public enum Op: Hashable, Sendable {
    // Sources.
    /// A tensor fed from outside on each run: data, parameters, tangents, random draws.
    case input(String)
    /// Every element equals the value (a splat; executors need no buffer for it).
    case constant(Double)

    // Elementwise, one operand.
    case neg, exp, log, sqrt
    case relu
    /// `x > 0 ? 1 : 0`; derivative zero (a mask).
    case step
    /// `-1, 0, 1`; derivative zero.
    case sign
    /// Identity whose derivative is zero in every transform.
    case stopGradient

    // Elementwise, two operands of one shape.
    case add, sub, mul, div
    case maximum, minimum
    /// `a == b ? 1 : 0`; derivative zero.
    case equal

    // Structure.
    /// Expands size-1 axes to the node's shape (same rank).
    case broadcast
    /// Sums over the axes, keeping them as size 1 (rank is preserved).
    case sum(axes: [Int])
    /// Max over the axes, keeping them as size 1.
    case max(axes: [Int])
    case reshape
    case transpose(permutation: [Int])

    // Linear algebra.
    /// `op(A)·op(B)` for 2-D operands, op = transpose when the flag is set.
    case matmul(transposeA: Bool, transposeB: Bool)
    /// x[N,C,H,W] ⊛ w[O,C/groups,K,K] → y[N,O,H',W'].
    case conv2d(Conv2D)
    /// The transpose of conv2d in x: (dy[N,O,H',W'], w) → dx[N,C,H,W]. Shape from the node.
    case conv2dInputGrad(Conv2D)
    /// The transpose of conv2d in w: (x, dy) → dw[O,C/groups,K,K]. Shape from the node.
    case conv2dFilterGrad(Conv2D)

    // Collective.
    /// The sum of the operand over the `ranks` processes of a data-parallel group (every rank
    /// gets the same value). Run by an executor given a `CrossRankReduction` of that size.
    case crossRankSum(ranks: Int)

    /// Primitive kinds, for tests that must walk the whole set and for profiles.
    public enum Kind: String, CaseIterable, Sendable {
        case input, constant, neg, exp, log, sqrt, relu, step, sign, stopGradient
        case add, sub, mul, div, maximum, minimum, equal
        case broadcast, sum, max, reshape, transpose, matmul
        case conv2d, conv2dInputGrad, conv2dFilterGrad
        case crossRankSum
    }

    public var kind: Kind {
        switch self {
        case .input: .input
        case .constant: .constant
        case .neg: .neg
        case .exp: .exp
        case .log: .log
        case .sqrt: .sqrt
        case .relu: .relu
        case .step: .step
        case .sign: .sign
        case .stopGradient: .stopGradient
        case .add: .add
        case .sub: .sub
        case .mul: .mul
        case .div: .div
        case .maximum: .maximum
        case .minimum: .minimum
        case .equal: .equal
        case .broadcast: .broadcast
        case .sum: .sum
        case .max: .max
        case .reshape: .reshape
        case .transpose: .transpose
        case .matmul: .matmul
        case .conv2d: .conv2d
        case .conv2dInputGrad: .conv2dInputGrad
        case .conv2dFilterGrad: .conv2dFilterGrad
        case .crossRankSum: .crossRankSum
        }
    }

    /// True for ops whose output element i depends only on element i of each operand.
    public var isElementwise: Bool {
        switch kind {
        case .neg, .exp, .log, .sqrt, .relu, .step, .sign, .stopGradient,
             .add, .sub, .mul, .div, .maximum, .minimum, .equal: true
        default: false
        }
    }
}

/// Square-kernel 2-D convolution attributes (all of rat's models use square kernels).
public struct Conv2D: Hashable, Sendable {
    public var stride: Int
    public var padding: Int
    public var groups: Int

    public init(stride: Int = 1, padding: Int = 0, groups: Int = 1) {
        self.stride = stride
        self.padding = padding
        self.groups = groups
    }

    /// Output spatial size for an input size and kernel size.
    public func outputSize(_ input: Int, kernel: Int) -> Int {
        (input + 2 * padding - kernel) / stride + 1
    }
}
