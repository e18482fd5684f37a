import Attacks
import Checkpoints
import Executor
import Foundation
import Graph
import Loader
import Models
import Recipe
import Training

/// What `rat eval` is asked, beyond the recipe.
public struct EvaluationOptions: Sendable {
    public var split: String?
    /// Evaluate the first n images of the split in file order (RobustBench's convention);
    /// nil = the recipe's `eval.examples`, else the whole split.
    public var examples: Int?
    /// A checkpoint of another run (and its recipe) to craft the attacks on: black-box transfer.
    public var transferFrom: (checkpoint: String, recipe: Recipe)?
    /// Also run the expensive gradient-masking checks (unbounded ε, twice the steps).
    public var allFlags = false
    /// The run folder whose `eval/` receives the result and the resumable progress; nil = not stored.
    public var storeIn: String?

    public init(split: String? = nil, examples: Int? = nil) {
        self.split = split
        self.examples = examples
    }
}

/// The result of `rat eval`: accuracies, per-example outcomes and flags of one checkpoint on
/// the first n images of one split. Field names follow RobustBench's where one exists.
public struct EvaluationReport: Sendable {
    public var checkpoint: String
    public var checkpointHash: String
    public var recipeHash: String
    public var dataset: String
    public var split: String
    public var classes: Int
    public var examples: Int
    public var threat: ThreatModel
    public var epsilonText: String
    public var accuracy: [(name: String, value: Double)]
    public var attacks: [AttackSpec]
    public var transferSource: String?
    public var outcomes: ExampleOutcomes
    public var flags: [MaskingFlag]
    public var wallSeconds: Double
    /// Identifies the settings (checkpoint, split, examples, attacks, seed, transfer source).
    public var settingsHash: String
    /// Where the JSON was written, if it was.
    public var storedAt: String?

    /// Share of points no attack of the list broke (AutoAttack's worst case per point).
    public var robustAccuracy: Double? {
        let lists = attacks.compactMap { outcomes.robust($0.name) }
        guard !lists.isEmpty else { return nil }
        let robust = outcomes.clean.indices.filter { i in outcomes.clean[i] && lists.allSatisfy { $0[i] } }
        return Double(robust.count) / Double(max(examples, 1))
    }

    public var json: String {
        var object: [String: Any] = [
            "format": "rat-eval-1", "rat_version": ratVersion, "git_commit": gitCommit() ?? "unknown",
            "checkpoint": checkpoint, "checkpoint_hash": checkpointHash, "recipe_hash": recipeHash,
            "dataset": dataset, "split": split, "n_examples": examples,
            "threat_model": threat.norm == .linf ? "Linf" : "L2", "eps": epsilonText, "eps_value": threat.epsilon,
            "wall_time_s": wallSeconds, "settings_hash": settingsHash,
            "flags": flags.map { ["name": $0.name, "message": $0.message, "values": $0.values] as [String: Any] },
        ]
        if let transferSource { object["transfer_from"] = transferSource }
        for (name, value) in accuracy where name == "clean" { object["clean_acc"] = value }
        if let robust = robustAccuracy { object["robust_acc"] = robust }
        if let aa = attacks.first(where: { $0.kind == .aa }), let value = accuracy.first(where: { $0.name == aa.name })?.value {
            object["autoattack_acc"] = value
        }
        object["attacks"] = attacks.map { spec -> [String: Any] in
            var entry = attackParameters(spec)
            entry["acc"] = accuracy.first { $0.name == spec.name }?.value ?? 0
            entry["transfer"] = transferSource != nil
            if let steps = outcomes.components[spec.name], steps.count > 1 {
                let names = spec.attacks(classes: classes).map(\.name)
                entry["components"] = zip(names, steps).map { name, robust in
                    ["name": name, "acc": Double(robust.filter { $0 }.count) / Double(max(examples, 1))] as [String: Any]
                }
            }
            return entry
        }
        var perExample = ["clean": bits(outcomes.clean)]
        for spec in attacks { if let robust = outcomes.robust(spec.name) { perExample[spec.name] = bits(robust) } }
        object["per_example"] = perExample
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .prettyPrinted])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    public var markdown: String {
        var rows = accuracy
        if let robust = robustAccuracy, attacks.count > 1 { rows.append(("robust (worst case)", robust)) }
        let header = "| " + rows.map(\.name).joined(separator: " | ") + " |\n|" + rows.map { _ in "---|" }.joined()
        return header + "\n| " + rows.map { String(format: "%.2f", 100 * $0.value) }.joined(separator: " | ") + " |"
    }
}

/// '1' per robust (or correct) example, '0' otherwise, in file order.
func bits(_ flags: [Bool]) -> String { String(flags.map { $0 ? "1" : "0" }) }

/// Every field an attack ran with, as the JSON stores it.
func attackParameters(_ spec: AttackSpec) -> [String: Any] {
    var entry: [String: Any] = ["name": spec.name, "kind": spec.kind.rawValue, "norm": spec.norm.rawValue,
                                "eps": spec.epsilonText, "eps_value": spec.epsilon]
    let values: [String: Any] = ["step": spec.step, "steps": spec.steps, "random_start": spec.randomStart,
                                 "restarts": spec.restarts, "kappa": spec.kappa, "iterations": spec.iterations,
                                 "rho": spec.rho, "targets": spec.targets ?? -1, "eot": spec.eot, "alpha_max": spec.alphaMax,
                                 "eta": spec.eta, "beta": spec.beta, "queries": spec.queries, "p_init": spec.pInit]
    for field in spec.kind.fields { entry[field] = values[field] }
    return entry
}

public let ratVersion = "0.4.0"

/// The commit of the source tree rat was built from, read from its `.git` (nil when absent).
func gitCommit() -> String? {
    var folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    for _ in 0..<4 { folder.deleteLastPathComponent() ; if FileManager.default.fileExists(atPath: folder.path + "/.git") { break } }
    guard let head = try? String(contentsOfFile: folder.path + "/.git/HEAD", encoding: .utf8)
        .trimmingCharacters(in: .whitespacesAndNewlines) else { return nil }
    guard head.hasPrefix("ref: ") else { return head }
    let ref = String(head.dropFirst(5))
    if let commit = try? String(contentsOfFile: folder.path + "/.git/" + ref, encoding: .utf8) {
        return commit.trimmingCharacters(in: .whitespacesAndNewlines)
    }
    let packed = (try? String(contentsOfFile: folder.path + "/.git/packed-refs", encoding: .utf8)) ?? ""
    return packed.split(separator: "\n").first { $0.hasSuffix(" " + ref) }.map { String($0.prefix(40)) }
}

/// Evaluates a checkpoint under the recipe's evaluation attacks (eval-mode BN) on the first
/// n images of a split, per example worst case; stores the JSON in the run folder if asked.
public func evaluate(recipe: Recipe, checkpoint: String, options: EvaluationOptions = EvaluationOptions(),
                     compiler: @escaping GraphCompiler = fastCompiler, stop: StopFlag = StopFlag(),
                     log: (String) -> Void = { _ in }) throws -> EvaluationReport {
    let started = Date()
    let setup = try RunSetup(recipe: recipe)
    let dataset = setup.dataset
    let splitName = options.split ?? recipe.eval.split.rawValue
    let split = try setup.split(splitName, key: "eval.split")
    let classes = setup.classes
    for (index, spec) in recipe.eval.attacks.enumerated() {
        if let problem = spec.problems(classes: classes).first {
            throw TrainingError("\(recipe.locations.location(of: "eval.attacks.\(index)")): \(problem.message)")
        }
    }
    let n = min(split.count, options.examples ?? recipe.eval.examples ?? split.count)
    guard n >= 1 else { throw TrainingError("nothing to evaluate: the split '\(splitName)' is empty or --examples is 0") }
    let shape = setup.inputShape

    let evaluated = try attackedModel(setup, checkpoint: checkpoint, shape: shape, compiler: compiler,
                                      randomize: recipe.noise.isActive && recipe.noise.atEval)
    var surrogate: AttackedModel?
    var transferHash: String?
    if let source = options.transferFrom {
        let theirs = try RunSetup(recipe: source.recipe)
        let their = Array(theirs.inputShape.dropFirst()) + [theirs.classes], our = Array(shape.dropFirst()) + [classes]
        guard their == our else {
            throw TrainingError("--transfer-from \(source.checkpoint): its model takes \(their[0])×\(their[1])×\(their[2]) "
                                + "inputs with \(their[3]) classes, the evaluated one \(our[0])×\(our[1])×\(our[2]) with \(our[3])")
        }
        // Compiled at the evaluated batch size: the surrogate crafts the very batches evaluated.
        surrogate = try attackedModel(theirs, checkpoint: source.checkpoint, shape: shape, compiler: compiler, randomize: false)
        transferHash = try fileHash(source.checkpoint)
    }

    let d = split.pixelsPerImage
    let images = split.pixels.prefix(n * d).map { Float($0) / 255 }
    let labels = Array(split.labels.prefix(n))
    let seed = UInt64(bitPattern: Int64(recipe.seed))
    let specs = recipe.eval.attacks
    var planned = specs.map { PlannedAttack(name: $0.name, components: $0.attacks(classes: classes), transfer: surrogate != nil) }
    if options.allFlags { planned += expensiveFlagAttacks(specs, eps: recipe.threat, classes: classes) }

    let checkpointHash = try fileHash(checkpoint)
    let settings = [checkpointHash, splitName, "\(n)", "\(seed)", transferHash ?? "white-box", options.allFlags ? "flags" : "",
                    specs.map { spec in attackParameters(spec).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",") }
                        .joined(separator: ";")].joined(separator: "|")
    let settingsHash = String(fnv1a(Data(settings.utf8)).suffix(12))
    let stored = options.storeIn.map { "\($0)/eval/\(splitName)-\(settingsHash)" }
    var progress = EvaluationProgress()
    if let stored, let data = FileManager.default.contents(atPath: stored + ".partial.json") {
        progress = (try? JSONDecoder().decode(EvaluationProgress.self, from: data)) ?? EvaluationProgress()
        log("continuing the interrupted evaluation in \(stored).partial.json")
    }
    if let stored { try FileManager.default.createDirectory(atPath: (stored as NSString).deletingLastPathComponent, withIntermediateDirectories: true) }

    // Time left per component: its batches so far extrapolated (its first batch started when
    // the previous report, or the evaluation, ended).
    let clock = ContinuousClock()
    var (componentStart, lastReport) = (clock.now, clock.now)
    var lastComponent = ""
    try runAttacks(planned, evaluated: evaluated, surrogate: surrogate, images: images, labels: labels, seed: seed,
                   progress: &progress,
                   save: { state in
                       guard let stored else { return }
                       try JSONEncoder().encode(state).write(to: URL(fileURLWithPath: stored + ".partial.json"), options: .atomic)
                   },
                   report: { attack, component, done, total in
                       let key = attack + "/" + component
                       if key != lastComponent { (lastComponent, componentStart) = (key, lastReport) }
                       lastReport = clock.now
                       let elapsed = (lastReport - componentStart) / .seconds(1)
                       let left = done > 0 ? elapsed / Double(done) * Double(total - done) : 0
                       log("\(attack) \(component == attack ? "" : "· \(component) ")\(done)/\(total) points, ~\(Int(left.rounded())) s left")
                   },
                   shouldStop: { stop.requested })

    let outcomes = progress.outcomes
    func share(_ flags: [Bool]) -> Double { Double(flags.filter { $0 }.count) / Double(n) }
    var accuracy = [(name: "clean", value: share(outcomes.clean))]
    for spec in specs { accuracy.append((spec.name, share(outcomes.robust(spec.name) ?? []))) }
    var flags = [MaskingFlag]()
    if specs.contains(where: { $0.kind.isSuite }) || options.allFlags {
        let first = (0..<evaluated.batch).map { $0 % n }
        flags += try passFlags(evaluated, images: gather(images, first, d), labels: first.map { labels[$0] },
                               eot: specs.map(\.eot).max() ?? 1)
    }
    flags += comparisonFlags(accuracy: Dictionary(accuracy, uniquingKeysWith: { a, _ in a }), specs: specs,
                             outcomes: outcomes, classes: classes)
    if options.allFlags { flags += expensiveFlags(outcomes, specs: specs, n: n) }

    var report = EvaluationReport(
        checkpoint: checkpoint, checkpointHash: checkpointHash, recipeHash: recipeHash(recipe), dataset: dataset.name,
        split: splitName, classes: classes, examples: n, threat: threatModel(recipe.threat), epsilonText: recipe.threat.eps.text,
        accuracy: accuracy, attacks: specs, transferSource: options.transferFrom?.checkpoint, outcomes: outcomes,
        flags: flags, wallSeconds: Date().timeIntervalSince(started), settingsHash: settingsHash, storedAt: nil)
    if let stored {
        try Data(report.json.utf8).write(to: URL(fileURLWithPath: stored + ".json"), options: .atomic)
        try? FileManager.default.removeItem(atPath: stored + ".partial.json")
        report.storedAt = stored + ".json"
    }
    return report
}

/// The evaluated (or surrogate) model with a checkpoint's weights, eval-mode BN, compiled for
/// `shape`; with `randomize`, weight noise σ on the recipe's noisy parameters is redrawn every pass.
func attackedModel(_ setup: RunSetup, checkpoint: String, shape: [Int], compiler: @escaping GraphCompiler,
                   randomize: Bool) throws -> AttackedModel {
    let state = try setup.evaluationState(checkpoint: checkpoint)
    let attacked = try AttackedModel(model: setup.model, inputShape: shape, classes: setup.classes, compiler: compiler)
    try attacked.load(weights: state.parameters.merging(state.buffers) { a, _ in a })
    if randomize {
        let noise = setup.recipe.noise
        let noisy = state.parameters.keys.sorted().filter { name in noise.params.contains { globMatches($0, name) } }
        attacked.randomization = .init(sigma: noise.sigma, parameters: noisy,
                                       rng: keyedGenerator(seed: setup.seed, epoch: -1, batch: 0, purpose: 5))
    }
    return attacked
}

/// With `--flags`: PGD at an unbounded ε (must reach ~0 %) and the first PGD with twice its steps.
func expensiveFlagAttacks(_ specs: [AttackSpec], eps threat: ThreatSpec, classes: Int) -> [PlannedAttack] {
    var out = [PlannedAttack]()
    var unbounded = ThreatModel(norm: threat.norm, epsilon: threat.norm == .linf ? 1 : 100, stepSize: 0)
    unbounded.stepSize = unbounded.epsilon / 10
    out.append(PlannedAttack(name: "flag/pgd-unbounded",
                             components: [PGD(name: "pgd-unbounded", loss: .crossEntropy, threat: unbounded, steps: 100,
                                              start: .uniform(norm: threat.norm, epsilon: unbounded.epsilon))],
                             transfer: false))
    if let pgd = specs.first(where: { $0.kind == .pgd }) {
        var doubled = pgd
        doubled.steps *= 2
        doubled.name = "flag/\(pgd.name)x2"
        out.append(PlannedAttack(name: doubled.name, components: doubled.attacks(classes: classes), transfer: false))
    }
    return out
}

func expensiveFlags(_ outcomes: ExampleOutcomes, specs: [AttackSpec], n: Int) -> [MaskingFlag] {
    var flags = [MaskingFlag]()
    func share(_ name: String) -> Double? { outcomes.robust(name).map { Double($0.filter { $0 }.count) / Double(n) } }
    if let unbounded = share("flag/pgd-unbounded"), unbounded > 0.01 {
        flags.append(MaskingFlag(name: "unbounded-pgd-not-zero",
                          message: "PGD with an unbounded ε leaves \(percent(unbounded)) accuracy, not ~0: the attack cannot "
                              + "follow the gradient (gradient masking?)", values: ["unbounded_acc": unbounded]))
    }
    if let pgd = specs.first(where: { $0.kind == .pgd }), let k = share(pgd.name), let twice = share("flag/\(pgd.name)x2"),
       k - twice > 0.005 {
        flags.append(MaskingFlag(name: "pgd-not-converged",
                          message: "\(pgd.name) with twice the steps lowers accuracy from \(percent(k)) to \(percent(twice)): "
                              + "the attack had not converged", values: ["pgd_acc": k, "pgd_2x_acc": twice]))
    }
    return flags
}

func fileHash(_ path: String) throws -> String { fnv1a(try Data(contentsOf: URL(fileURLWithPath: path))) }

func recipeHash(_ recipe: Recipe) -> String { fnv1a(Data(renderYAML(recipe).utf8)) }

/// FNV-1a 64 of the checkpoint's bytes: identifies which file produced a result.
func fnv1a(_ data: Data) -> String {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for b in data { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
    return String(format: "fnv1a64:%016llx", h)
}
