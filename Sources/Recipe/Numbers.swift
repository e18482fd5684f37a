import Objectives

/// A real number that remembers how it was written. ε is conventionally written `8/255`;
/// keeping the text lets `config show` echo it and `check` warn about `0.031` (≈ 7.9/255).
/// Equality is by value: `8/255` and `0.03137254901960784` are the same radius.
public struct WrittenNumber: Equatable, Sendable, CustomStringConvertible {
    public var value: Double
    public var text: String

    public init(_ value: Double) {
        self.value = value
        self.text = formatNumber(value)
    }

    public init(value: Double, text: String) {
        self.value = value
        self.text = text
    }

    /// `numerator/denominator`, the way the field writes image-space radii.
    public static func fraction(_ numerator: Int, _ denominator: Int) -> WrittenNumber {
        WrittenNumber(value: Double(numerator) / Double(denominator), text: "\(numerator)/\(denominator)")
    }

    public var isFraction: Bool { text.contains("/") }
    public var description: String { text }

    public static func == (lhs: WrittenNumber, rhs: WrittenNumber) -> Bool { lhs.value == rhs.value }
}

/// The shortest text that reads back as the same Double (one home: the loss expressions').
func formatNumber(_ value: Double) -> String { WeightExpression.format(value) }

/// Numbers in recipes: decimals (`0.1`, `5e-4`) and simple fractions (`8/255`).
enum NumberSyntax {
    /// The value of `text`, nil if it does not look like a number at all, or an error if it
    /// looks like a fraction but is not one (`8/`, `8/0`, `8/2x5`).
    static func parse(_ text: String, at location: SourceLocation) throws -> Double? {
        let trimmed = text.trimmingSpaces()
        if let value = decimal(trimmed) { return value }
        guard trimmed.contains("/"), let first = trimmed.first, first.isNumber || first == "-" || first == "." || first == "+" else {
            return nil
        }
        let parts = trimmed.split(separator: "/", omittingEmptySubsequences: false).map { String($0).trimmingSpaces() }
        guard parts.count == 2, let numerator = decimal(parts[0]), let denominator = decimal(parts[1]) else {
            throw RecipeError("malformed fraction '\(trimmed)': expected <number>/<number>, such as 8/255", at: location)
        }
        guard denominator != 0 else {
            throw RecipeError("malformed fraction '\(trimmed)': the denominator is zero", at: location)
        }
        return numerator / denominator
    }

    /// A plain decimal: digits, one optional point, an optional exponent. Rejects what
    /// `Double(_:)` would also take but a recipe should not say (`inf`, `nan`, `0x1p3`).
    static func decimal(_ text: String) -> Double? {
        guard !text.isEmpty, text.allSatisfy({ "0123456789.+-eE".contains($0) }),
              text.contains(where: { $0.isNumber }), let value = Double(text), value.isFinite else { return nil }
        return value
    }

    /// An integer: optional sign and digits.
    static func integer(_ text: String) -> Int? {
        let trimmed = text.trimmingSpaces()
        guard !trimmed.isEmpty, trimmed.allSatisfy({ "0123456789+-".contains($0) }) else { return nil }
        return Int(trimmed)
    }
}

extension String {
    func trimmingSpaces() -> String {
        var slice = Substring(self)
        while let first = slice.first, first == " " || first == "\t" { slice.removeFirst() }
        while let last = slice.last, last == " " || last == "\t" { slice.removeLast() }
        return String(slice)
    }
}
