import Graph

// Placeholder signatures while FAB-T and Square are written on their own branch.
public struct FABTargeted: Attack {
    public var name: String
    public var threat: ThreatModel
    public var iterations: Int, restarts: Int, targets: Int
    public var alphaMax: Double, eta: Double, beta: Double
    public var isWhiteBox: Bool { true }
    public init(name: String, threat: ThreatModel, iterations: Int, restarts: Int, targets: Int, alphaMax: Double, eta: Double, beta: Double) {
        self.name = name; self.threat = threat; self.iterations = iterations; self.restarts = restarts
        self.targets = targets; self.alphaMax = alphaMax; self.eta = eta; self.beta = beta
    }
    public func perturb(_ model: AttackedModel, images: [Float], labels: [Int32], rng: inout SplitMix64) throws -> [Float] { images }
}

public struct SquareAttack: Attack {
    public var name: String
    public var threat: ThreatModel
    public var queries: Int, pInit: Double, restarts: Int
    public var isWhiteBox: Bool { false }
    public init(name: String, threat: ThreatModel, queries: Int, pInit: Double, restarts: Int) {
        self.name = name; self.threat = threat; self.queries = queries; self.pInit = pInit; self.restarts = restarts
    }
    public func perturb(_ model: AttackedModel, images: [Float], labels: [Int32], rng: inout SplitMix64) throws -> [Float] { images }
}
