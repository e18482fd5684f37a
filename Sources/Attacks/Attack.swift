import Graph

/// An attack: given a model under attack and one batch (N images [N·D] in [0, 1], labels),
/// the points it found, one per image, inside the threat model's ball. The caller decides
/// success from the model's prediction at those points, so every attack is judged alike.
///
/// Attacks are values (their parameters); their loops run on the host and drive graphs the
/// `AttackedModel` compiled once, so nothing is recompiled per batch.
public protocol Attack: Sendable {
    /// How results and metrics refer to it (`pgd20`, `apgd-ce`, …).
    var name: String { get }
    var threat: ThreatModel { get }
    /// Whether it reads gradients; Square only queries the model's outputs.
    var isWhiteBox: Bool { get }
    func perturb(_ model: AttackedModel, images: [Float], labels: [Int32], rng: inout SplitMix64) throws -> [Float]
}

/// Copies image `row` of `source` into `destination` ([N·D] each).
func copyRow(_ row: Int, from source: [Float], to destination: inout [Float], imageSize d: Int) {
    destination.replaceSubrange((row * d)..<((row + 1) * d), with: source[(row * d)..<((row + 1) * d)])
}
