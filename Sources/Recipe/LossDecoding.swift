import Objectives

/// Reading `loss:` — named parameters first, then terms whose weights may use them.
extension LossSpec {
    static let keys = ["params", "terms"]
    static let termKeys = ["name", "kind", "on", "weight", "per_example", "kappa", "mixing", "repeat_adv_minus_nat"]

    /// Without `terms` the paper's terms are kept and `params` overlay the paper's
    /// (so `--set loss.params.eta=0.3` works on a recipe that writes no loss at all).
    init(from node: YAMLNode) throws {
        let reader = try MappingReader(node, path: "loss", known: LossSpec.keys)
        var params = reader.has("terms") ? [:] : LossSpec.paper.params
        if let paramsNode = reader.child("params") {
            let paramsReader = try MappingReader(paramsNode, path: "loss.params",
                                                 known: paramsNode.entries?.map(\.key) ?? [])
            for entry in paramsReader.entries {
                guard isIdentifier(entry.key) else {
                    throw RecipeError("parameter name '\(entry.key)' must be a letter or '_' followed by letters, digits or '_'",
                                      at: entry.keyLocation)
                }
                params[entry.key] = try readDouble(entry.value, path: "loss.params.\(entry.key)")
            }
        }
        guard let termsNode = reader.child("terms") else {
            self.init(params: params, terms: LossSpec.paper.terms)
            return
        }
        let items = try readSequence(termsNode, path: "loss.terms")
        guard !items.isEmpty else {
            throw RecipeError("'loss.terms' is empty: a loss needs at least one term", at: termsNode.location)
        }
        var terms: [WeightedTerm] = []
        let names = params.keys.sorted()
        for (index, item) in items.enumerated() {
            var term = try WeightedTerm(from: item, path: "loss.terms.\(index)", parameters: names)
            let explicitName = item.entry("name")
            if terms.contains(where: { $0.name == term.name }) {
                if let explicitName {
                    throw RecipeError("two loss terms are named '\(term.name)'", at: explicitName.value.location)
                }
                var suffix = 2
                while terms.contains(where: { $0.name == "\(term.name)#\(suffix)" }) { suffix += 1 }
                term.term.name = "\(term.name)#\(suffix)"
            }
            terms.append(term)
        }
        self.init(params: params, terms: terms)
    }
}

extension WeightedTerm {
    init(from node: YAMLNode, path: String, parameters: [String]) throws {
        let reader = try MappingReader(node, path: path, known: LossSpec.termKeys)
        guard let kindNode = reader.child("kind") else {
            throw RecipeError("missing key 'kind' in '\(path)' (one of: "
                              + CriterionKind.allCases.map(\.rawValue).joined(separator: ", ") + ")", at: node.location)
        }
        let kind: CriterionKind = try readChoice(kindNode, path: "\(path).kind")
        for entry in reader.entries where LossSpec.termKeys.dropFirst(5).contains(entry.key) && !kind.optionKeys.contains(entry.key) {
            throw RecipeError("'\(entry.key)' does not apply to a '\(kind.rawValue)' term", at: entry.keyLocation)
        }
        var views = try WeightedTerm.readViews(reader, kind: kind, path: path, termLocation: node.location)
        let criterion: Criterion
        switch kind {
        case .ce: criterion = .crossEntropy
        case .kl: criterion = .kl
        case .symmetricKL: criterion = .symmetricKL
        case .mse: criterion = .squaredError
        case .cw: criterion = .carliniWagner(kappa: try reader.double("kappa", default: 0))
        case .boostedCE: criterion = .boostedCrossEntropy
        case .softLabelT1, .softLabelT2:
            var mixing: Double?
            if let mixingNode = reader.child("mixing"), !isNull(mixingNode) {
                mixing = try readDouble(mixingNode, path: "\(path).mixing")
            }
            criterion = kind == .softLabelT1 ? .softLabelT1(mixing: mixing)
                : .softLabelT2(mixing: mixing, repeatAdvMinusNat: try reader.bool("repeat_adv_minus_nat", default: true))
            views = softLabelViews
        }
        var weight = WeightExpression.number(1)
        if let weightNode = reader.child("weight") {
            weight = try WeightedTerm.readWeight(weightNode, path: "\(path).weight", parameters: parameters)
        }
        var exampleWeight: WeightExpression?
        if let perExampleNode = reader.child("per_example") {
            if criterion.needsClassifierInputs {
                throw RecipeError("'per_example' does not apply to a '\(kind.rawValue)' term: it is built per batch",
                                  at: perExampleNode.location)
            }
            exampleWeight = try WeightedTerm.readWeight(perExampleNode, path: "\(path).per_example",
                                                        parameters: parameters, perExample: true)
        }
        let name = try reader.string("name", default: WeightedTerm.derivedName(criterion: criterion, views: views))
        self.init(LossTerm(name: name, criterion: criterion, views: views, weight: 1, exampleWeight: exampleWeight),
                  weight: weight)
    }

    private static func readViews(_ reader: MappingReader, kind: CriterionKind, path: String,
                                  termLocation: SourceLocation) throws -> [View] {
        guard let onNode = reader.child("on") else {
            if kind.arity.lowerBound == 0 { return [] }
            throw RecipeError("missing key 'on' in '\(path)': a '\(kind.rawValue)' term needs "
                              + arityText(kind.arity), at: termLocation)
        }
        if kind.arity.upperBound == 0 {
            throw RecipeError("a '\(kind.rawValue)' term takes no views: it uses the clean and adversarial logits "
                              + "and the penultimate features", at: onNode.location)
        }
        let items = readListOrScalar(onNode)
        guard kind.arity.contains(items.count) else {
            throw RecipeError("a '\(kind.rawValue)' term needs \(arityText(kind.arity)), 'on' lists \(items.count)",
                              at: onNode.location)
        }
        return try items.enumerated().map { index, item in
            let text = try readString(item, path: "\(path).on.\(index)")
            guard let view = View(spelling: text) else {
                throw RecipeError("unknown view '\(text)' in '\(path).on'" + didYouMean(text, among: View.allSpellings),
                                  at: item.location)
            }
            return view
        }
    }

    private static func arityText(_ arity: ClosedRange<Int>) -> String {
        switch (arity.lowerBound, arity.upperBound) {
        case (1, 1): return "one view"
        case (2, 2): return "two views"
        default: return "one or two views"
        }
    }

    /// A number, a fraction or an expression; positions inside it are reported exactly for
    /// single-line scalars (a quoted one starts one column after its quote).
    /// A per-example weight may also read statistics of views (`1 - p_y(clean)`).
    static func readWeight(_ node: YAMLNode, path: String, parameters: [String],
                           perExample: Bool = false) throws -> WeightExpression {
        guard case .scalar(let scalar) = node.value, !scalar.isNull else {
            throw RecipeError("expected a number or an expression for '\(path)', found \(node.kindName)", at: node.location)
        }
        let start = node.location.shifted(by: scalar.quoted ? 1 : 0)
        return try WeightExpressionParser.parse(scalar.text, at: start, parameters: parameters, path: path,
                                                allowsStatistics: perExample)
    }
}

func isIdentifier(_ text: String) -> Bool {
    guard let first = text.first, first.isLetter || first == "_" else { return false }
    return text.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" }
}

/// What the recipe's `kind:` asks of a term's other keys.
extension CriterionKind {
    /// How many views `on` must list (the soft-label terms take theirs implicitly).
    var arity: ClosedRange<Int> {
        switch self {
        case .ce, .cw, .boostedCE: return 1...1
        case .kl, .symmetricKL: return 2...2
        case .mse: return 1...2
        case .softLabelT1, .softLabelT2: return 0...0
        }
    }

    /// Term keys besides name/kind/on/weight that this kind accepts.
    var optionKeys: [String] {
        switch self {
        case .cw: return ["kappa"]
        case .softLabelT1: return ["mixing"]
        case .softLabelT2: return ["mixing", "repeat_adv_minus_nat"]
        default: return []
        }
    }
}

/// `clean`, `J(adversarial)`, `H(clean)`, `noisy(clean)`: the views' spellings (`View.description`) read back.
extension View {
    static let allSpellings: [String] = View.all.map(\.description)

    init?(spelling: String) {
        let text = spelling.filter { $0 != " " }
        guard let view = View.all.first(where: { $0.description == text }) else { return nil }
        self = view
    }
}
