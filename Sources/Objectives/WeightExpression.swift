import Graph

/// A loss-term weight: a number or arithmetic over named hyper-parameters (`eta / 2`,
/// `(1 - alpha)`), kept as a tree and evaluated against the loss's parameters late, so that
/// `--set loss.params.eta=0.3` changes every weight that mentions `eta`.
///
/// A per-example weight (a term's `per_example:`) may also read statistics of a view per
/// example, e.g. MART's `1 - p_y(clean)`; it becomes part of the graph (gradients flow
/// through it, as in MART's reference code).
public indirect enum WeightExpression: Hashable, Sendable, CustomStringConvertible {
    case number(Double)
    case parameter(String)
    /// A per-example statistic of a view's logits, [N, 1].
    case statistic(ExampleStatistic, View)
    case negate(WeightExpression)
    case binary(BinaryOperator, WeightExpression, WeightExpression)

    public enum BinaryOperator: String, Sendable {
        case add = "+", subtract = "-", multiply = "*", divide = "/"

        public var precedence: Int { self == .add || self == .subtract ? 1 : 2 }
    }

    /// The value with `params` substituted. A name missing from `params` is NaN (the loader
    /// rejects such names, so this only happens for hand-built expressions), as is a
    /// statistic (it has a value per example, not one number); x/0 is ±inf.
    public func evaluate(_ params: [String: Double]) -> Double {
        switch self {
        case .number(let value): return value
        case .parameter(let name): return params[name] ?? .nan
        case .statistic: return .nan
        case .negate(let operand): return -operand.evaluate(params)
        case .binary(let op, let lhs, let rhs): return op.apply(lhs.evaluate(params), rhs.evaluate(params))
        }
    }

    /// The same tree with every parameter replaced by its value (NaN when missing).
    public func substituting(_ params: [String: Double]) -> WeightExpression {
        switch self {
        case .number, .statistic: return self
        case .parameter(let name): return .number(params[name] ?? .nan)
        case .negate(let operand): return .negate(operand.substituting(params))
        case .binary(let op, let lhs, let rhs): return .binary(op, lhs.substituting(params), rhs.substituting(params))
        }
    }

    /// Every parameter name the expression mentions, in reading order.
    public var parameterNames: [String] {
        switch self {
        case .number, .statistic: return []
        case .parameter(let name): return [name]
        case .negate(let operand): return operand.parameterNames
        case .binary(_, let lhs, let rhs): return lhs.parameterNames + rhs.parameterNames
        }
    }

    /// Every view a statistic reads, in reading order.
    public var views: [View] {
        switch self {
        case .number, .parameter: return []
        case .statistic(_, let view): return [view]
        case .negate(let operand): return operand.views
        case .binary(_, let lhs, let rhs): return lhs.views + rhs.views
        }
    }

    /// The weight per example, [N, 1], from the logits of the views it reads.
    /// Parameters must have been substituted first (`substituting`).
    func perExample(_ logits: [View: Tensor], onehot: Tensor) -> Tensor {
        let n = onehot.shape[0]
        switch self {
        case .number(let value): return onehot.builder.constant(value, shape: [n, 1])
        case .parameter(let name): preconditionFailure("parameter '\(name)' was not substituted before building the graph")
        case .statistic(let statistic, let view): return statistic.value(logits[view]!, onehot)
        case .negate(let operand): return -operand.perExample(logits, onehot: onehot)
        case .binary(let op, let lhs, let rhs):
            let a = lhs.perExample(logits, onehot: onehot), b = rhs.perExample(logits, onehot: onehot)
            switch op {
            case .add: return a + b
            case .subtract: return a - b
            case .multiply: return a * b
            case .divide: return a / b
            }
        }
    }

    /// Infix text with only the parentheses needed to parse back to the same tree.
    public var description: String { render(parentPrecedence: 0, isRightOperand: false) }

    private func render(parentPrecedence: Int, isRightOperand: Bool) -> String {
        switch self {
        case .number(let value): return WeightExpression.format(value)
        case .parameter(let name): return name
        case .statistic(let statistic, let view): return "\(statistic.rawValue)(\(view))"
        case .negate(let operand): return "-" + operand.render(parentPrecedence: 3, isRightOperand: false)
        case .binary(let op, let lhs, let rhs):
            let text = lhs.render(parentPrecedence: op.precedence, isRightOperand: false) + " \(op.rawValue) "
                + rhs.render(parentPrecedence: op.precedence, isRightOperand: true)
            // Left-associative: a right operand of equal precedence needs parentheses (a - (b - c)).
            let needsParentheses = op.precedence < parentPrecedence || (op.precedence == parentPrecedence && isRightOperand)
            return needsParentheses ? "(\(text))" : text
        }
    }

    /// The shortest text that reads back as the same Double (Swift's description does exactly that).
    public static func format(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 { return String(Int(value)) }
        return "\(value)"
    }
}

extension WeightExpression.BinaryOperator {
    func apply(_ a: Double, _ b: Double) -> Double {
        switch self {
        case .add: a + b
        case .subtract: a - b
        case .multiply: a * b
        case .divide: a / b
        }
    }
}

/// What a per-example weight can read of a view, spelled as recipes write it (`p_y(clean)`).
public enum ExampleStatistic: String, CaseIterable, Sendable {
    /// softmax(z)_y: the probability of the true class.
    case trueClassProbability = "p_y"
    /// z_y − max_{j≠y} z_j: the logit margin (negative when misclassified).
    case margin

    /// [N, 1] from logits [N, K] and one-hot labels [N, K].
    func value(_ logits: Tensor, _ onehot: Tensor) -> Tensor {
        switch self {
        case .trueClassProbability: sum(softmax(logits) * onehot, axes: [1])
        case .margin: Objectives.margin(logits, onehot)
        }
    }
}
