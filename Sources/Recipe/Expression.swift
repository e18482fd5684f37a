/// A loss-term weight: a number or arithmetic over named hyper-parameters (`eta / 2`,
/// `(1 - alpha)`). Kept as a tree and evaluated against `loss.params` after overrides,
/// so `--set loss.params.eta=0.3` changes every weight that mentions `eta`.
public indirect enum WeightExpression: Equatable, Sendable, CustomStringConvertible {
    case number(Double)
    case parameter(String)
    case negate(WeightExpression)
    case binary(BinaryOperator, WeightExpression, WeightExpression)

    public enum BinaryOperator: String, Sendable {
        case add = "+", subtract = "-", multiply = "*", divide = "/"

        var precedence: Int { self == .add || self == .subtract ? 1 : 2 }
    }

    /// The value with `params` substituted. A name missing from `params` is NaN (the loader
    /// rejects such names, so this only happens for hand-built expressions); x/0 is ±inf.
    public func evaluate(_ params: [String: Double]) -> Double {
        switch self {
        case .number(let value): return value
        case .parameter(let name): return params[name] ?? .nan
        case .negate(let operand): return -operand.evaluate(params)
        case .binary(let op, let lhs, let rhs):
            let a = lhs.evaluate(params), b = rhs.evaluate(params)
            switch op {
            case .add: return a + b
            case .subtract: return a - b
            case .multiply: return a * b
            case .divide: return a / b
            }
        }
    }

    /// Every parameter name the expression mentions, in reading order.
    public var parameterNames: [String] {
        switch self {
        case .number: return []
        case .parameter(let name): return [name]
        case .negate(let operand): return operand.parameterNames
        case .binary(_, let lhs, let rhs): return lhs.parameterNames + rhs.parameterNames
        }
    }

    /// Infix text with only the parentheses needed to parse back to the same tree.
    public var description: String { render(parentPrecedence: 0, isRightOperand: false) }

    private func render(parentPrecedence: Int, isRightOperand: Bool) -> String {
        switch self {
        case .number(let value): return formatNumber(value)
        case .parameter(let name): return name
        case .negate(let operand): return "-" + operand.render(parentPrecedence: 3, isRightOperand: false)
        case .binary(let op, let lhs, let rhs):
            let text = lhs.render(parentPrecedence: op.precedence, isRightOperand: false) + " \(op.rawValue) "
                + rhs.render(parentPrecedence: op.precedence, isRightOperand: true)
            // Left-associative: a right operand of equal precedence needs parentheses (a - (b - c)).
            let needsParentheses = op.precedence < parentPrecedence || (op.precedence == parentPrecedence && isRightOperand)
            return needsParentheses ? "(\(text))" : text
        }
    }
}

/// Recursive-descent parser for weight expressions: `sum := product (('+'|'-') product)*`,
/// `product := unary (('*'|'/') unary)*`, `unary := '-' unary | number | name | '(' sum ')'`.
struct WeightExpressionParser {
    private let characters: [Character]
    private var position = 0
    private let start: SourceLocation
    private let parameters: [String]
    private let path: String

    /// `start` is where the expression's first character sits, so errors point at the offending token.
    static func parse(_ text: String, at start: SourceLocation, parameters: [String], path: String) throws -> WeightExpression {
        var parser = WeightExpressionParser(characters: Array(text), start: start, parameters: parameters, path: path)
        parser.skipSpaces()
        guard parser.position < parser.characters.count else {
            throw RecipeError("empty weight expression for '\(path)'", at: start)
        }
        let expression = try parser.parseSum()
        parser.skipSpaces()
        if parser.position < parser.characters.count {
            throw parser.error("unexpected '\(parser.characters[parser.position])' in the weight of '\(parser.path)'")
        }
        return expression
    }

    private init(characters: [Character], start: SourceLocation, parameters: [String], path: String) {
        self.characters = characters
        self.start = start
        self.parameters = parameters
        self.path = path
    }

    private func error(_ message: String, at offset: Int? = nil) -> RecipeError {
        RecipeError(message, at: start.shifted(by: offset ?? position))
    }

    private mutating func skipSpaces() {
        while position < characters.count, characters[position] == " " { position += 1 }
    }

    private mutating func take(_ candidates: String) -> Character? {
        skipSpaces()
        guard position < characters.count, candidates.contains(characters[position]) else { return nil }
        position += 1
        return characters[position - 1]
    }

    private mutating func parseSum() throws -> WeightExpression {
        var result = try parseProduct()
        while let symbol = take("+-") {
            result = .binary(symbol == "+" ? .add : .subtract, result, try parseProduct())
        }
        return result
    }

    private mutating func parseProduct() throws -> WeightExpression {
        var result = try parseUnary()
        while let symbol = take("*/") {
            result = .binary(symbol == "*" ? .multiply : .divide, result, try parseUnary())
        }
        return result
    }

    private mutating func parseUnary() throws -> WeightExpression {
        if take("-") != nil { return .negate(try parseUnary()) }
        if take("(") != nil {
            let inner = try parseSum()
            guard take(")") != nil else { throw error("expected ')' in the weight of '\(path)'") }
            return inner
        }
        skipSpaces()
        guard position < characters.count else { throw error("expected a number or a parameter name at the end of the weight of '\(path)'") }
        let tokenStart = position
        let first = characters[position]
        if first.isNumber || first == "." {
            while position < characters.count, characters[position].isNumber || characters[position] == "."
                    || ((characters[position] == "e" || characters[position] == "E") && position + 1 < characters.count
                        && (characters[position + 1].isNumber || characters[position + 1] == "-")) {
                if characters[position] == "e" || characters[position] == "E" { position += 1 }
                position += 1
            }
            let token = String(characters[tokenStart..<position])
            guard let value = NumberSyntax.decimal(token) else { throw error("malformed number '\(token)' in the weight of '\(path)'", at: tokenStart) }
            return .number(value)
        }
        if first.isLetter || first == "_" {
            while position < characters.count, characters[position].isLetter || characters[position].isNumber
                    || characters[position] == "_" {
                position += 1
            }
            let name = String(characters[tokenStart..<position])
            guard parameters.contains(name) else {
                let known = parameters.isEmpty ? " (loss.params defines no parameters)"
                    : didYouMean(name, among: parameters)
                throw error("unknown parameter '\(name)' in the weight of '\(path)'\(known)", at: tokenStart)
            }
            return .parameter(name)
        }
        throw error("expected a number or a parameter name in the weight of '\(path)', found '\(first)'")
    }
}
