/// One evaluation attack as a recipe declares it, fully resolved: every field the user left
/// out holds the reference default (AutoAttack's `set_version('standard')` for its family,
/// the TRADES evaluation code for PGD/CW). Recipes decode into this type; `attacks()` makes
/// the attack values that run.
public struct AttackSpec: Equatable, Sendable {
    public enum Kind: String, CaseIterable, Sendable {
        /// Projected gradient descent on cross-entropy, uniform random start.
        case pgd
        /// The same loop on the CW margin −max(z_y − max_{j≠y} z_j + κ, 0).
        case cw
        /// One step of size ε from the clean point.
        case fgsm
        case apgdCE = "apgd-ce", apgdDLR = "apgd-dlr", apgdT = "apgd-t"
        case fabT = "fab-t"
        case square
        /// AutoAttack suites: each component runs on the points still robust.
        case aa, aaPlus = "aa-plus", aaRand = "aa-rand"

        public var isSuite: Bool { [.aa, .aaPlus, .aaRand].contains(self) }
        /// Fields of the spec this kind reads (besides name, kind, norm, eps).
        public var fields: [String] {
            switch self {
            case .pgd: ["step", "steps", "random_start", "restarts"]
            case .cw: ["step", "steps", "random_start", "restarts", "kappa"]
            case .fgsm: []
            case .apgdCE, .apgdDLR: ["iterations", "restarts", "rho", "eot"]
            case .apgdT: ["iterations", "restarts", "rho", "targets", "eot"]
            case .fabT: ["iterations", "restarts", "targets", "alpha_max", "eta", "beta"]
            case .square: ["queries", "p_init", "restarts"]
            case .aa, .aaPlus: ["targets"]
            case .aaRand: ["eot"]
            }
        }
    }

    public var name: String
    public var kind: Kind
    public var norm: Norm
    public var epsilon: Double
    /// ε as the recipe wrote it (`8/255`), for reports.
    public var epsilonText: String
    /// The step as written (PGD/CW).
    public var stepText: String
    public var step: Double
    public var steps: Int
    public var randomStart: Bool
    public var restarts: Int
    public var kappa: Double
    public var iterations: Int
    public var rho: Double
    /// Target classes of APGD-T and FAB-T; nil = AutoAttack's 9, or classes − 1 when fewer.
    public var targets: Int?
    public var eot: Int
    public var alphaMax: Double
    public var eta: Double
    public var beta: Double
    public var queries: Int
    public var pInit: Double

    /// The protocol's attack of `kind` against a threat model, with the reference defaults.
    public init(kind: Kind, norm: Norm, epsilon: Double, epsilonText: String, step: Double, steps: Int = 20) {
        self.kind = kind
        self.norm = norm
        self.epsilon = epsilon
        self.epsilonText = epsilonText
        stepText = "\(kind == .fgsm ? epsilon : step)"
        self.step = kind == .fgsm ? epsilon : step
        self.steps = kind == .fgsm ? 1 : steps
        randomStart = kind != .fgsm
        restarts = 1
        kappa = 50
        iterations = 100
        rho = 0.75
        targets = nil
        eot = kind == .aaRand ? 20 : 1
        alphaMax = 0.1
        eta = 1.05
        beta = 0.9
        queries = 5000
        pInit = 0.8
        name = switch kind {
        case .pgd, .cw: "\(kind.rawValue)\(steps)"
        default: kind.rawValue
        }
    }

    public var threat: ThreatModel { ThreatModel(norm: norm, epsilon: epsilon, stepSize: step) }

    /// Problems a recipe must be told of (the dataset's class count is known only then).
    public func problems(classes: Int) -> [(field: String, message: String)] {
        var found = [(String, String)]()
        let targeted: Set<Kind> = [.apgdT, .fabT, .aa, .aaPlus]
        if targeted.contains(kind), let targets, targets > classes - 1 {
            found.append(("targets", "\(name): \(targets) target classes, but \(classes) classes leave only \(classes - 1)"))
        }
        if [.apgdDLR, .aaPlus, .aaRand].contains(kind), classes < 3 {
            found.append(("kind", "\(name): the DLR loss needs at least 3 classes, the dataset has \(classes)"))
        }
        if [.apgdT, .aa, .aaPlus].contains(kind), classes < 4 {
            found.append(("kind", "\(name): the targeted DLR loss needs at least 4 classes, the dataset has \(classes)"))
        }
        return found
    }
}

extension AttackSpec {
    /// The attacks that run, in order: one, or a suite's components (each on the points the
    /// earlier ones left robust). `problems(classes:)` must be empty.
    public func attacks(classes: Int) -> [any Attack] {
        let threat = self.threat
        let targetCount = targets ?? Swift.min(9, classes - 1)
        func apgd(_ name: String, _ loss: AttackLoss, restarts: Int = 1, eot: Int = 1) -> APGD {
            APGD(name: name, loss: loss, threat: threat, iterations: iterations, restarts: restarts, rho: rho,
                 targets: targetCount, eot: eot)
        }
        let fab = FABTargeted(name: "fab-t", threat: threat, iterations: iterations, restarts: restarts,
                              targets: targetCount, alphaMax: alphaMax, eta: eta, beta: beta)
        let square = SquareAttack(name: "square", threat: threat, queries: queries, pInit: pInit, restarts: restarts)
        switch kind {
        case .pgd, .cw:
            let start: AttackStart = randomStart ? .uniform(norm: norm, epsilon: epsilon) : .clean
            return [PGD(name: name, loss: kind == .cw ? .carliniWagner(kappa: kappa) : .crossEntropy, threat: threat,
                        steps: steps, start: start, restarts: restarts)]
        case .fgsm: return [PGD.fgsm(threat: threat, name: name)]
        case .apgdCE: return [apgd(name, .crossEntropy, restarts: restarts, eot: eot)]
        case .apgdDLR: return [apgd(name, .dlr, restarts: restarts, eot: eot)]
        case .apgdT: return [apgd(name, .targetedDLR, restarts: restarts, eot: eot)]
        case .fabT: return [fab]
        case .square: return [square]
        case .aa:
            return [apgd("apgd-ce", .crossEntropy), apgd("apgd-t", .targetedDLR), fab, square]
        case .aaPlus:
            // AutoAttack's `plus`: 5 restarts of the untargeted APGDs, then the targeted attacks.
            // Its untargeted FAB is not implemented here; FAB-T stands in (docs/evaluation.md).
            return [apgd("apgd-ce", .crossEntropy, restarts: 5), apgd("apgd-dlr", .dlr, restarts: 5), square,
                    apgd("apgd-t", .targetedDLR), fab]
        case .aaRand:
            return [apgd("apgd-ce", .crossEntropy, eot: eot), apgd("apgd-dlr", .dlr, eot: eot)]
        }
    }
}
