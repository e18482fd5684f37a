/// One primitive's three rules, kept together: its reference forward in Double, its
/// forward-mode rule (JVP) and its reverse-mode rule (VJP). JVP and VJP are written with the
/// same graph ops they differentiate, never with kernels, so the transforms nest:
/// `vjp(jvp(jvp(f)))` is just the rules applied to graphs that rules produced.
public struct Rule: Sendable {
    /// Computes the node's value from its operands' values.
    public let reference: @Sendable (_ operands: [DTensor], _ node: Node) -> DTensor
    /// The output's tangent from the operands' tangents; nil means zero.
    public let jvp: @Sendable (_ d: Tangents) -> Tensor?
    /// The operands' cotangents from the output's cotangent; nil means zero.
    public let vjp: @Sendable (_ d: Cotangent) -> [Tensor?]
}

/// What a JVP rule sees: the operands and output (primal values) and the operands' tangents.
public struct Tangents {
    public let operands: [Tensor]
    public let output: Tensor
    public let tangents: [Tensor?]
}

/// What a VJP rule sees: the operands and output (primal values) and the output's cotangent.
public struct Cotangent {
    public let operands: [Tensor]
    public let output: Tensor
    public let cotangent: Tensor
}

/// Sum of tangents where nil means zero.
func addTangents(_ a: Tensor?, _ b: Tensor?) -> Tensor? {
    switch (a, b) {
    case let (x?, y?): x + y
    case let (x?, nil): x
    case let (nil, y?): y
    case (nil, nil): nil
    }
}

/// Rules of an op whose output is constant with respect to every operand.
func zeroDerivativeRule(_ reference: @escaping @Sendable ([DTensor], Node) -> DTensor) -> Rule {
    Rule(reference: reference, jvp: { _ in nil }, vjp: { d in d.operands.map { _ in nil } })
}

extension Op {
    /// The rule table: every primitive maps to its rules, so a new case without rules does
    /// not compile.
    public var rule: Rule {
        switch self {
        case .input: inputRule
        case .constant(let v): constantRule(v)
        case .neg: negRule
        case .exp: expRule
        case .log: logRule
        case .sqrt: sqrtRule
        case .relu: reluRule
        case .step: stepRule
        case .sign: signRule
        case .stopGradient: stopGradientRule
        case .add: addRule
        case .sub: subRule
        case .mul: mulRule
        case .div: divRule
        case .maximum: maximumRule
        case .minimum: minimumRule
        case .equal: equalRule
        case .broadcast: broadcastRule
        case .sum(let axes): sumRule(axes)
        case .max(let axes): maxRule(axes)
        case .reshape: reshapeRule
        case .transpose(let p): transposeRule(p)
        case .matmul(let ta, let tb): matmulRule(ta, tb)
        case .conv2d(let a): conv2dRule(a)
        case .conv2dInputGrad(let a): conv2dInputGradRule(a)
        case .conv2dFilterGrad(let a): conv2dFilterGradRule(a)
        case .crossRankSum(let ranks): crossRankSumRule(ranks)
        }
    }
}
