/// "Did you mean" for missing tensor names: a typo in a parameter path is the usual cause.
enum NameSuggestions {
    static func closest(to query: String, among candidates: [String], limit: Int = 5) -> [String] {
        let target = Array(query.utf8)
        return candidates
            .map { (name: $0, distance: editDistance(target, Array($0.utf8))) }
            .sorted { ($0.distance, $0.name) < ($1.distance, $1.name) }
            .prefix(limit)
            .map(\.name)
    }

    /// Levenshtein distance over UTF-8 bytes, two-row dynamic programme.
    static func editDistance(_ lhs: [UInt8], _ rhs: [UInt8]) -> Int {
        guard !lhs.isEmpty else { return rhs.count }
        guard !rhs.isEmpty else { return lhs.count }
        var previous = Array(0...rhs.count)
        var current = [Int](repeating: 0, count: rhs.count + 1)
        for (row, left) in lhs.enumerated() {
            current[0] = row + 1
            for (column, right) in rhs.enumerated() {
                let substitution = previous[column] + (left == right ? 0 : 1)
                current[column + 1] = min(substitution, previous[column + 1] + 1, current[column] + 1)
            }
            swap(&previous, &current)
        }
        return previous[rhs.count]
    }
}
