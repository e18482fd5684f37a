import Attacks
import Foundation
import Graph

/// A sign that an evaluation may overstate robustness (gradient masking or an attack that
/// did not converge), after AutoAttack's `checks.py`, Carlini et al. (2019) and Pintor et
/// al. (2022). Printed as a warning and stored with the result.
public struct MaskingFlag: Codable, Sendable, Equatable {
    public var name: String
    public var message: String
    public var values: [String: Double]
}

/// The cheap checks that `aa` always runs, on the first batch of examples: repeated passes
/// that disagree (a randomized model), and input gradients that are exactly zero.
public func passFlags(_ model: AttackedModel, images: [Float], labels: [Int32], eot: Int) throws -> [MaskingFlag] {
    var flags = [MaskingFlag]()
    let first = try model.logits(images), second = try model.logits(images)
    let changed = zip(first, second).map { abs($0 - $1) }.max() ?? 0
    if changed > 0 && eot < 2 {
        flags.append(MaskingFlag(name: "randomized-without-eot",
                          message: "the logits change across repeated passes (max |Δ| = \(changed)) but no attack averages "
                              + "gradients over samples: evaluate with aa-rand or eval.eot ≥ 2",
                          values: ["max_logit_change": Double(changed)]))
    }
    let gradient = try model.lossAndGradient(.crossEntropy, at: images, labels: labels).gradient
    let d = model.imageSize
    let zero = (0..<model.batch).filter { row in gradient[(row * d)..<((row + 1) * d)].allSatisfy { $0 == 0 } }.count
    if zero > 0 {
        flags.append(MaskingFlag(name: "zero-gradients",
                          message: "\(zero) of \(model.batch) points have an input gradient that is exactly zero: "
                              + "gradient-based attacks cannot move them (gradient masking?)",
                          values: ["zero_gradient_share": Double(zero) / Double(model.batch)]))
    }
    return flags
}

/// Checks that compare the attacks' accuracies (bookkeeping only).
func comparisonFlags(accuracy: [String: Double], specs: [AttackSpec], outcomes: ExampleOutcomes, classes: Int) -> [MaskingFlag] {
    var flags = [MaskingFlag]()
    let pgds = specs.filter { $0.kind == .pgd }.compactMap { spec in accuracy[spec.name].map { (spec.name, $0) } }
    for fgsm in specs where fgsm.kind == .fgsm {
        guard let fgsmAccuracy = accuracy[fgsm.name] else { continue }
        for (name, value) in pgds where fgsmAccuracy < value {
            flags.append(MaskingFlag(name: "fgsm-stronger-than-pgd",
                              message: "\(fgsm.name) (\(percent(fgsmAccuracy))) is stronger than \(name) (\(percent(value))): "
                                  + "the iterative attack is stuck (gradient masking?)",
                              values: ["fgsm_acc": fgsmAccuracy, "pgd_acc": value]))
        }
    }
    // Square after the white-box components of a suite: the points only it broke.
    for spec in specs where spec.kind == .aa || spec.kind == .aaPlus {
        guard let steps = outcomes.components[spec.name], steps.count >= 2 else { continue }
        let names = spec.attacks(classes: classes).map(\.name)
        guard let squareIndex = names.firstIndex(of: "square"), squareIndex > 0 else { continue }
        let before = steps[squareIndex - 1].filter { $0 }.count, after = steps[squareIndex].filter { $0 }.count
        let gap = Double(before - after) / Double(max(outcomes.clean.count, 1))
        if gap > 0.002 {
            flags.append(MaskingFlag(name: "square-beats-white-box",
                              message: "Square broke \(before - after) points (\(percent(gap))) that every white-box attack "
                                  + "before it missed: the gradients mislead (gradient masking?)",
                              values: ["square_only_share": gap]))
        }
    }
    return flags
}

func percent(_ value: Double) -> String { String(format: "%.2f %%", 100 * value) }
