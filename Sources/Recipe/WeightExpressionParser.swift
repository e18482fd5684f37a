import Objectives

/// Recursive-descent parser for weight expressions: `sum := product (('+'|'-') product)*`,
/// `product := unary (('*'|'/') unary)*`, `unary := '-' unary | number | name | statistic '(' view ')' | '(' sum ')'`.
/// Statistics (`p_y(clean)`, `margin(noisy(adversarial))`) are allowed only in per-example weights.
struct WeightExpressionParser {
    private let characters: [Character]
    private var position = 0
    private let start: SourceLocation
    private let parameters: [String]
    private let path: String
    private let allowsStatistics: Bool

    /// `start` is where the expression's first character sits, so errors point at the offending token.
    static func parse(_ text: String, at start: SourceLocation, parameters: [String], path: String,
                      allowsStatistics: Bool = false) throws -> WeightExpression {
        var parser = WeightExpressionParser(characters: Array(text), start: start, parameters: parameters, path: path,
                                            allowsStatistics: allowsStatistics)
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

    private init(characters: [Character], start: SourceLocation, parameters: [String], path: String,
                 allowsStatistics: Bool) {
        self.characters = characters
        self.start = start
        self.parameters = parameters
        self.path = path
        self.allowsStatistics = allowsStatistics
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
            if position < characters.count, characters[position] == "(" {
                return try parseStatistic(name, at: tokenStart)
            }
            guard parameters.contains(name) else {
                let known = parameters.isEmpty ? " (loss.params defines no parameters)"
                    : didYouMean(name, among: parameters)
                throw error("unknown parameter '\(name)' in the weight of '\(path)'\(known)", at: tokenStart)
            }
            return .parameter(name)
        }
        throw error("expected a number or a parameter name in the weight of '\(path)', found '\(first)'")
    }

    /// `name(view)` after its name: the view's spelling runs to the matching ')'.
    private mutating func parseStatistic(_ name: String, at tokenStart: Int) throws -> WeightExpression {
        let known = ExampleStatistic.allCases.map(\.rawValue)
        guard let statistic = ExampleStatistic(rawValue: name) else {
            throw error("unknown statistic '\(name)(…)' in '\(path)'" + didYouMean(name, among: known), at: tokenStart)
        }
        guard allowsStatistics else {
            throw error("'\(name)(…)' has a value per example: write it in the term's 'per_example', not in '\(path)'",
                        at: tokenStart)
        }
        position += 1  // '('
        let viewStart = position
        var depth = 1
        while position < characters.count {
            if characters[position] == "(" { depth += 1 }
            if characters[position] == ")" { depth -= 1; if depth == 0 { break } }
            position += 1
        }
        guard position < characters.count else { throw error("expected ')' after the view of '\(name)(' in '\(path)'") }
        let text = String(characters[viewStart..<position])
        position += 1  // ')'
        guard let view = View(spelling: text) else {
            throw error("unknown view '\(text)' in '\(path)'" + didYouMean(text.filter { $0 != " " }, among: View.allSpellings),
                        at: viewStart)
        }
        return .statistic(statistic, view)
    }
}
