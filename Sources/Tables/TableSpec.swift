import Foundation
import Recipe

/// A table to reproduce: rows (recipes with overrides, optionally a sweep of one key),
/// columns (what each cell reports), seeds, which checkpoint a cell uses, and the paper's
/// published value per cell. Read from YAML by the recipe reader (`file:line:col` errors).
public struct TableSpec: Sendable {
    public var path: String
    public var title: String
    public var seeds: [Int]
    public var columns: [Column]
    public var rows: [Row]
    /// The root of the run folders (relative to the working directory, like a recipe's `output`).
    public var runsRoot: String
    /// The split and number of images the cells are evaluated on (nil: the recipe's `eval.*`).
    public var split: String?
    public var examples: Int?
    /// The warnings of `rat check` on the rows' resolved recipes, each once with the rows it
    /// concerns: a table runs its recipes, so it checks them as every command does. Errors
    /// refuse the spec.
    public var warnings: [String] {
        checkWarnings.map { w in
            Diagnostic(.warning, "row\(w.rows.count > 1 ? "s" : "") \(w.rows.map { "'\($0)'" }.joined(separator: ", ")): \(w.diagnostic.message)",
                       at: w.diagnostic.location).description
        }
    }
    private var checkWarnings: [(diagnostic: Diagnostic, rows: [String])] = []

    public enum ColumnKind: String, CaseIterable, Sendable {
        case clean, pgd20, cw20, aa
        case transferPGD20 = "transfer-pgd20", transferCW20 = "transfer-cw20"
        case epochTime = "epoch-time", peakMemory = "peak-memory"

        /// The white-box attack behind the column, as the recipe's `eval.attacks` spells it.
        public var attack: String? {
            switch self {
            case .pgd20, .transferPGD20: return "pgd20"
            case .cw20, .transferCW20: return "cw20"
            case .aa: return "aa"
            default: return nil
            }
        }
        public var isTransfer: Bool { self == .transferPGD20 || self == .transferCW20 }
        public var isAccuracy: Bool { self != .epochTime && self != .peakMemory }
        /// Accuracy: higher is better; time and memory: lower.
        public var higherIsBetter: Bool { isAccuracy }
        public var unit: String {
            switch self {
            case .epochTime: return "s"
            case .peakMemory: return "MB"
            default: return "%"
            }
        }
    }

    public struct Column: Sendable {
        public var kind: ColumnKind
        /// The heading; defaults to the kind's spelling.
        public var title: String
        /// For transfer columns: the row whose runs craft the attacks (a row may name its own).
        public var surrogate: String?
        public var location: SourceLocation
        /// Where the surrogate is named (the column otherwise).
        public var surrogateLocation: SourceLocation
        /// Evaluate this column on the first N images (default: the table's `examples`): an
        /// expensive column (AutoAttack) may use fewer images than the others.
        public var examples: Int?
    }

    /// Which checkpoint of a run a cell reports.
    public enum CheckpointRule: String, CaseIterable, Sendable {
        /// Selected on the validation split during training (`best.safetensors`).
        case best
        case last
        /// The highest accuracy on the evaluated split over every kept checkpoint: the
        /// paper's choice, selected on the test set; marked in the rendered table.
        case bestEver = "best-ever"
    }

    public struct Row: Sendable {
        public var label: String
        /// Resolved against the spec's folder.
        public var recipe: String
        public var recipeLocation: SourceLocation
        /// `key.path=value`, as `--set` takes them, in the order written.
        public var overrides: [String]
        public var overrideLocations: [SourceLocation]
        /// One key and its values; each value is a displayed row.
        public var sweep: Sweep?
        public var surrogate: String?
        public var surrogateLocation: SourceLocation?
        public var checkpoint: CheckpointRule
        /// Trained (for example as a transfer surrogate) but not shown.
        public var hidden: Bool
        /// The published value per column; per sweep value when the row sweeps.
        public var paper: [String: [ColumnKind: Double]]
        public var location: SourceLocation
    }

    public struct Sweep: Sendable {
        public var key: String
        public var values: [String]
        public var location: SourceLocation
    }

    static let keys = ["title", "seeds", "columns", "rows", "runs", "checkpoint", "split", "examples"]
    static let rowKeys = ["label", "recipe", "set", "sweep", "paper", "surrogate", "checkpoint", "hidden"]

    /// Reads and validates a spec: every recipe exists and loads with its overrides, every
    /// sweep key exists in the resolved recipe, every surrogate names a row.
    public static func load(path: String) throws -> TableSpec {
        let root = try SpecNode.read(path: path)
        var spec = try TableSpec(root: root, path: path)
        try spec.validateRecipes()
        return spec
    }

    init(root: SpecNode, path: String) throws {
        self.path = path
        let top = try SpecReader(root, what: "a table spec", known: Self.keys)
        title = try top.string("title") ?? RecipeLoader.stem(path)
        // runs/tables/<spec folder>: one store per folder of specs, so a run two tables share
        // (same resolved recipe and seed, hence the same folder name) is trained once, while
        // tables/paper and tables/mini stay apart.
        let parent = ((path as NSString).deletingLastPathComponent as NSString).lastPathComponent
        runsRoot = try top.string("runs") ?? "runs/tables" + (parent.isEmpty || parent == "." ? "" : "/" + parent)
        split = try top.string("split")
        examples = try top.int("examples")
        let defaultRule = try top.choice("checkpoint", CheckpointRule.self) ?? .best

        guard let seedsNode = top.child("seeds") else { throw RecipeError("missing key 'seeds' (a list of integers)", at: root.location) }
        seeds = try SpecReader.list(seedsNode, what: "'seeds'").map { try SpecReader.integer($0, what: "a seed") }
        if seeds.isEmpty { throw RecipeError("'seeds' is empty: list at least one integer seed", at: seedsNode.location) }
        if let repeated = Dictionary(grouping: seeds, by: { $0 }).first(where: { $0.value.count > 1 })?.key {
            throw RecipeError("seed \(repeated) is listed twice", at: seedsNode.location)
        }

        guard let columnsNode = top.child("columns") else { throw RecipeError("missing key 'columns'", at: root.location) }
        columns = try SpecReader.list(columnsNode, what: "'columns'").map(Self.column)
        guard let rowsNode = top.child("rows") else { throw RecipeError("missing key 'rows'", at: root.location) }
        let folder = (path as NSString).deletingLastPathComponent
        rows = try SpecReader.list(rowsNode, what: "'rows'").map { try Self.row($0, folder: folder, rule: defaultRule) }
        if rows.isEmpty { throw RecipeError("'rows' is empty", at: rowsNode.location) }
        var seen = [String: SourceLocation]()
        for row in rows {
            if let first = seen.updateValue(row.location, forKey: row.label) {
                throw RecipeError("two rows are labelled '\(row.label)' (first at line \(first.line)); labels name rows",
                                  at: row.location)
            }
        }
        try checkSurrogates()
    }

    private static func column(_ node: SpecNode) throws -> Column {
        let names = ColumnKind.allCases.map(\.rawValue)
        func kind(_ text: String, at location: SourceLocation) throws -> ColumnKind {
            guard let kind = ColumnKind(rawValue: text) else {
                throw RecipeError("unknown column '\(text)'" + suggestion(for: text, among: names), at: location)
            }
            return kind
        }
        if case .scalar(let text, _) = node.value {
            let k = try kind(text, at: node.location)
            return Column(kind: k, title: k.rawValue, surrogate: nil, location: node.location, surrogateLocation: node.location,
                          examples: nil)
        }
        let reader = try SpecReader(node, what: "a column", known: ["name", "title", "surrogate", "examples"])
        guard let nameNode = reader.child("name") else { throw RecipeError("a column needs a 'name' (\(names.joined(separator: ", ")))", at: node.location) }
        let k = try kind(try SpecReader.scalar(nameNode, what: "'name'"), at: nameNode.location)
        let surrogate = try reader.string("surrogate")
        if surrogate != nil && !k.isTransfer {
            throw RecipeError("'surrogate' applies to transfer columns only, not '\(k.rawValue)'", at: reader.child("surrogate")!.location)
        }
        return Column(kind: k, title: try reader.string("title") ?? k.rawValue, surrogate: surrogate, location: node.location,
                      surrogateLocation: reader.child("surrogate")?.location ?? node.location, examples: try reader.int("examples"))
    }

    private static func row(_ node: SpecNode, folder: String, rule: CheckpointRule) throws -> Row {
        let reader = try SpecReader(node, what: "a row", known: rowKeys)
        guard let label = try reader.string("label") else { throw RecipeError("a row needs a 'label'", at: node.location) }
        guard let recipeNode = reader.child("recipe") else { throw RecipeError("row '\(label)' needs a 'recipe'", at: node.location) }
        let recipe = try SpecReader.scalar(recipeNode, what: "'recipe'")
        var overrides = [String](), overrideLocations = [SourceLocation]()
        if let setNode = reader.child("set") {
            for entry in try SpecReader.entries(setNode, what: "'set'") {
                overrides.append("\(entry.key)=\(entry.value.flowText)")
                overrideLocations.append(entry.keyLocation)
            }
        }
        var sweep: Sweep?
        if let sweepNode = reader.child("sweep") {
            let entries = try SpecReader.entries(sweepNode, what: "'sweep'")
            guard entries.count == 1, let entry = entries.first else {
                throw RecipeError("'sweep' takes one key and its list of values (write another row for a second key)",
                                  at: sweepNode.location)
            }
            let values = try SpecReader.list(entry.value, what: "the sweep over '\(entry.key)'").map(\.flowText)
            if values.isEmpty { throw RecipeError("the sweep over '\(entry.key)' lists no values", at: entry.value.location) }
            sweep = Sweep(key: entry.key, values: values, location: entry.keyLocation)
        }
        var paper = [String: [ColumnKind: Double]]()
        if let paperNode = reader.child("paper") {
            if let sweep {
                for entry in try SpecReader.entries(paperNode, what: "'paper'") {
                    guard let value = sweep.values.first(where: { $0 == entry.key || Double($0) == Double(entry.key) }) else {
                        throw RecipeError("'paper' of a swept row is keyed by the sweep's values (\(sweep.values.joined(separator: ", "))); "
                                          + "'\(entry.key)' is not one", at: entry.keyLocation)
                    }
                    paper[value] = try paperCells(entry.value)
                }
            } else {
                paper[""] = try paperCells(paperNode)
            }
        }
        let surrogateNode = reader.child("surrogate")
        return Row(label: label, recipe: folder.isEmpty || recipe.hasPrefix("/") ? recipe : folder + "/" + recipe,
                   recipeLocation: recipeNode.location, overrides: overrides, overrideLocations: overrideLocations,
                   sweep: sweep, surrogate: try reader.string("surrogate"), surrogateLocation: surrogateNode?.location,
                   checkpoint: try reader.choice("checkpoint", CheckpointRule.self) ?? rule,
                   hidden: try reader.bool("hidden") ?? false, paper: paper, location: node.location)
    }

    /// `{clean: 84.65, pgd20: 56.68, …}`: numbers in the column's unit; `–` or null for none.
    private static func paperCells(_ node: SpecNode) throws -> [ColumnKind: Double] {
        var cells = [ColumnKind: Double]()
        for entry in try SpecReader.entries(node, what: "'paper'") {
            guard let kind = ColumnKind(rawValue: entry.key) else {
                throw RecipeError("unknown column '\(entry.key)' in 'paper'"
                                  + suggestion(for: entry.key, among: ColumnKind.allCases.map(\.rawValue)), at: entry.keyLocation)
            }
            let text = try SpecReader.scalar(entry.value, what: "'paper.\(entry.key)'")
            if ["–", "-", "~", "null", ""].contains(text) { continue }
            guard let number = Double(text) else {
                throw RecipeError("'paper.\(entry.key)' must be a number, found '\(text)'", at: entry.value.location)
            }
            cells[kind] = number
        }
        return cells
    }

    private func checkSurrogates() throws {
        let labels = rows.map(\.label)
        func check(_ name: String, at location: SourceLocation) throws {
            guard let row = rows.first(where: { $0.label == name }) else {
                throw RecipeError("surrogate row '\(name)' does not exist" + suggestion(for: name, among: labels), at: location)
            }
            if row.sweep != nil { throw RecipeError("surrogate row '\(name)' sweeps; a surrogate is one model per seed", at: location) }
        }
        for column in columns { if let name = column.surrogate { try check(name, at: column.surrogateLocation) } }
        for row in rows { if let name = row.surrogate, let location = row.surrogateLocation { try check(name, at: location) } }
        for column in columns where column.kind.isTransfer {
            for row in rows where !row.hidden && (row.surrogate ?? column.surrogate) == nil {
                throw RecipeError("transfer column '\(column.title)' needs a surrogate row: write 'surrogate: <row label>' "
                                  + "on the column or on row '\(row.label)'", at: column.location)
            }
        }
    }

    /// Every row's recipe loads with its overrides and each sweep value; a sweep key must be a
    /// key of the resolved recipe (a sweep over a typo would train one setting n times).
    mutating func validateRecipes() throws {
        for row in rows {
            guard FileManager.default.fileExists(atPath: row.recipe) else {
                throw RecipeError("row '\(row.label)': no recipe at '\(row.recipe)'", at: row.recipeLocation)
            }
            let base = try loadRecipe(row, overrides: row.overrides)
            try checkRecipe(base, of: row)
            if let sweep = row.sweep {
                let keys = try yamlKeyPaths(renderYAML(base))
                guard keys.contains(sweep.key) else {
                    let candidates = keys.filter { $0.split(separator: ".").count == sweep.key.split(separator: ".").count }
                    throw RecipeError("row '\(row.label)': the sweep key '\(sweep.key)' is not a key of the resolved recipe "
                                      + "'\(row.recipe)'" + suggestion(for: sweep.key, among: candidates.sorted()), at: sweep.location)
                }
                for value in sweep.values {
                    try checkRecipe(try loadRecipe(row, overrides: row.overrides + ["\(sweep.key)=\(value)"]), of: row)
                }
            }
        }
    }

    /// Where in the spec a `--set` override of `row` was written (line n of "--set" is the
    /// n-th override; the sweep's value comes last); other locations are the recipe file's.
    func specLocation(of location: SourceLocation, _ row: Row) -> SourceLocation {
        guard location.file == "--set" else { return location }
        let index = location.line - 1
        return index < row.overrideLocations.count ? row.overrideLocations[index] : (row.sweep?.location ?? row.location)
    }

    /// `rat check`'s semantic checks on one resolved recipe of `row`. The prepared dataset is
    /// not inspected: a spec must plan where its data are absent (tables/paper on this
    /// machine), and a run whose data are missing fails alone at `table run`.
    private mutating func checkRecipe(_ recipe: Recipe, of row: Row) throws {
        for var diagnostic in check(recipe, options: CheckOptions(inspectDataset: false)) {
            diagnostic.location = specLocation(of: diagnostic.location, row)
            if diagnostic.severity == .error { throw RecipeError("row '\(row.label)': \(diagnostic.message)", at: diagnostic.location) }
            if let seen = checkWarnings.firstIndex(where: { $0.diagnostic == diagnostic }) {
                if !checkWarnings[seen].rows.contains(row.label) { checkWarnings[seen].rows.append(row.label) }
            } else {
                checkWarnings.append((diagnostic, [row.label]))
            }
        }
    }

    /// The row's recipe with overrides; an error inside an override is told at the spec's key.
    func loadRecipe(_ row: Row, overrides: [String]) throws -> Recipe {
        do { return try RecipeLoader.load(path: row.recipe, overrides: overrides) } catch let error as RecipeError
            where error.location.file == "--set" {
            let index = error.location.line - 1
            throw RecipeError("row '\(row.label)': \(error.message) (in '\(overrides[index])')", at: specLocation(of: error.location, row))
        }
    }

    /// The displayed rows: one per row, or one per sweep value, labelled `label (key = value)`.
    public var displayedRows: [(row: Int, sweepValue: String?, label: String)] {
        rows.enumerated().flatMap { index, row -> [(row: Int, sweepValue: String?, label: String)] in
            guard !row.hidden else { return [] }
            guard let sweep = row.sweep else { return [(index, nil, row.label)] }
            let short = sweep.key.split(separator: ".").last.map(String.init) ?? sweep.key
            return sweep.values.map { (index, $0, "\(row.label) (\(short) = \($0))") }
        }
    }
}

extension RecipeLoader {
    static func stem(_ path: String) -> String {
        ((path as NSString).lastPathComponent as NSString).deletingPathExtension
    }
}
