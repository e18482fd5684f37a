/// A recipe that cannot be used: where, and what was expected there.
/// Prints like a compiler error so editors and terminals can jump to it.
public struct RecipeError: Error, CustomStringConvertible, Equatable, Sendable {
    public var location: SourceLocation
    public var message: String

    public init(_ message: String, at location: SourceLocation) {
        self.location = location
        self.message = message
    }

    public var description: String { "\(location): error: \(message)" }
}

/// A finding of `check`: errors make the recipe unusable, warnings flag protocol problems
/// that would make a robustness claim doubtful.
public struct Diagnostic: Equatable, Sendable, CustomStringConvertible {
    public enum Severity: String, Sendable { case error, warning }

    public var severity: Severity
    public var location: SourceLocation
    public var message: String

    public init(_ severity: Severity, _ message: String, at location: SourceLocation) {
        self.severity = severity
        self.location = location
        self.message = message
    }

    public var description: String { "\(location): \(severity.rawValue): \(message)" }
}

/// "Did you mean": the known word nearest to a misspelling, if it is near enough to be a typo.
func nearest(to word: String, among candidates: [String]) -> String? {
    var best: (String, Int)?
    for candidate in candidates {
        let distance = editDistance(word.lowercased(), candidate.lowercased())
        if best == nil || distance < best!.1 { best = (candidate, distance) }
    }
    guard let (candidate, distance) = best else { return nil }
    // A third of the word may differ: catches `lr_shedule`, `eps1lon`, not `foo` → `eval`.
    let tolerance = max(2, max(word.count, candidate.count) / 3)
    return distance <= tolerance ? candidate : nil
}

func didYouMean(_ word: String, among candidates: [String]) -> String {
    if let suggestion = nearest(to: word, among: candidates) { return " — did you mean '\(suggestion)'?" }
    return " (expected one of: \(candidates.joined(separator: ", ")))"
}

/// Levenshtein distance with adjacent transpositions counted as one edit (`pramas` → `params`).
func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var table = Array(repeating: Array(repeating: 0, count: b.count + 1), count: a.count + 1)
    for i in 0...a.count { table[i][0] = i }
    for j in 0...b.count { table[0][j] = j }
    for i in 1...a.count {
        for j in 1...b.count {
            let cost = a[i - 1] == b[j - 1] ? 0 : 1
            var value = min(table[i - 1][j] + 1, table[i][j - 1] + 1, table[i - 1][j - 1] + cost)
            if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                value = min(value, table[i - 2][j - 2] + 1)
            }
            table[i][j] = value
        }
    }
    return table[a.count][b.count]
}
