import Kernels

/// A fully resolved training recipe: every field has a value (the paper's by default,
/// docs/method.md), composition and overrides are applied, and weights are still expressions.
public struct Recipe: Equatable, Sendable {
    /// Defaults to the recipe file's name without extension.
    public var name: String
    public var data: DataSpec
    public var model: ModelSpec
    public var threat: ThreatSpec
    public var attack: TrainingAttackSpec
    public var noise: NoiseSpec
    public var loss: LossSpec
    public var awp: AWPSpec
    /// How data-parallel ranks (mpirun) train together; no effect in a single process.
    public var distributed: DistributedSpec
    /// The inputs of the training step's forward convolutions on oneDNN (loss graph and its
    /// attack): fp32, or bf16 with f32 accumulation, f32 gradients and f32 master weights
    /// (docs/recipes.md). Evaluation always runs fp32.
    public var precision: Precision
    public var optim: OptimSpec
    public var schedule: ScheduleSpec
    public var eval: EvalSpec
    public var seed: Int
    /// The run folder; defaults to `runs/<name>`.
    public var output: String
    /// Where each value was written, for diagnostics found after loading.
    public var locations: SourceLocations

    /// The paper's setting: PreAct ResNet-18 on CIFAR-10, ℓ∞ 8/255, TRADES + 1st + 2nd.
    public init(name: String) {
        self.name = name
        data = DataSpec()
        model = ModelSpec()
        threat = ThreatSpec()
        attack = TrainingAttackSpec()
        noise = NoiseSpec()
        loss = .paper
        awp = AWPSpec()
        distributed = DistributedSpec()
        precision = .fp32
        optim = OptimSpec()
        schedule = ScheduleSpec()
        eval = EvalSpec(threat: threat)
        seed = 0
        output = "runs/\(name)"
        locations = SourceLocations(file: "<defaults>")
    }

    static let keys = ["name", "extends", "data", "model", "threat", "attack", "noise", "loss", "awp",
                       "distributed", "precision", "optim", "schedule", "eval", "seed", "output"]

    /// Sections every complete recipe states, directly or through `extends`: what is trained on what.
    static let requiredSections = ["data", "model"]

    /// Maps a merged tree (no `extends` left) to the typed recipe.
    init(from node: YAMLNode, defaultName: String, requireSections: Bool) throws {
        let reader = try MappingReader(node, path: "", known: Recipe.keys)
        if requireSections {
            for section in Recipe.requiredSections where !reader.has(section) {
                throw RecipeError("missing section '\(section)': a recipe says which \(section == "data" ? "dataset" : "model") "
                                  + "it uses (directly or through 'extends')", at: node.location)
            }
        }
        self.init(name: try reader.string("name", default: defaultName))
        if let section = reader.child("data") { data = try DataSpec(from: section) }
        if let section = reader.child("model") { model = try ModelSpec(from: section) }
        if let section = reader.child("threat") { threat = try ThreatSpec(from: section) }
        if let section = reader.child("attack") { attack = try TrainingAttackSpec(from: section) }
        if let section = reader.child("noise") { noise = try NoiseSpec(from: section) }
        if let section = reader.child("loss") { loss = try LossSpec(from: section) }
        if let section = reader.child("awp") { awp = try AWPSpec(from: section) }
        if let section = reader.child("distributed") { distributed = try DistributedSpec(from: section) }
        precision = try reader.choice("precision", default: precision)
        if let section = reader.child("optim") { optim = try OptimSpec(from: section) }
        if let section = reader.child("schedule") { schedule = try ScheduleSpec(from: section) }
        eval = try reader.child("eval").map { try EvalSpec(from: $0, threat: threat) } ?? EvalSpec(threat: threat)
        seed = try reader.int("seed", default: 0)
        output = try reader.string("output", default: "runs/\(name)")
        locations = SourceLocations(tree: node)
    }
}

/// Where each key path (`threat.eps`, `loss.terms.2.weight`) was written. Provenance, not
/// content: two recipes that say the same thing are equal wherever they were written, so
/// this compares equal always.
public struct SourceLocations: Equatable, Sendable {
    public private(set) var table: [String: SourceLocation] = [:]
    /// The location for anything written nowhere (a default): the top of the recipe.
    public private(set) var fallback: SourceLocation

    init(file: String) {
        fallback = SourceLocation(file: file, line: 1, column: 1)
    }

    init(tree: YAMLNode) {
        fallback = SourceLocation(file: tree.location.file, line: 1, column: 1)
        record(tree, path: "")
    }

    private mutating func record(_ node: YAMLNode, path: String) {
        if !path.isEmpty { table[path] = node.location }
        switch node.value {
        case .scalar: break
        case .mapping(let entries):
            for entry in entries {
                let childPath = path.isEmpty ? entry.key : "\(path).\(entry.key)"
                record(entry.value, path: childPath)
                // A key whose value is a collection points at its key: that is where a reader looks.
                if case .scalar = entry.value.value {} else { table[childPath] = entry.keyLocation }
            }
        case .sequence(let items):
            for (index, item) in items.enumerated() { record(item, path: "\(path).\(index)") }
        }
    }

    /// The location of `keyPath`, or of its nearest written ancestor (`threat.step` left to
    /// its default points at `threat:`), or the top of the file.
    public func location(of keyPath: String) -> SourceLocation {
        var path = keyPath
        while !path.isEmpty {
            if let location = table[path] { return location }
            guard let dot = path.lastIndex(of: ".") else { break }
            path = String(path[..<dot])
        }
        return fallback
    }

    public static func == (lhs: SourceLocations, rhs: SourceLocations) -> Bool { true }
}
