import Graph

// The authors' soft-label approximation of the Taylor terms (docs/method.md §2), as compositions
// of primitives. Their code does not differentiate along weight noise: it reads the gradient
// of the cross-entropy with respect to the last linear layer's weight, once for the clean and
// once for the adversarial batch, turns the difference into soft labels, and pulls each
// softmax towards them with a KL. The statistic and the soft labels are constants (their
// code reads them from `.grad`, outside the autograd graph), hence the stop-gradients.
//
// Shapes: logits z [N, C], penultimate features h [N, F], one-hot labels [N, C]; class
// vectors are kept as [1, C] rows so that they broadcast against the batch.

/// The clean and adversarial forward passes a soft-label term reads.
struct SoftLabelPass {
    var logits: Tensor
    var features: Tensor
}

/// `Σ_j ∂CE/∂W_cj` for the classifier weight W [C, F] and the mean cross-entropy, in closed
/// form: `(1/B) Σ_n (softmax(z_n) − y_n)_c · Σ_j h_nj` → [1, C]. A constant: the result
/// is wrapped in `stopGradient`.
public func classifierGradientRowSums(logits: Tensor, features: Tensor, onehot: Tensor) -> Tensor {
    precondition(logits.shape == onehot.shape && features.rank == 2 && features.shape[0] == logits.shape[0],
                 "logits \(logits.shape), features \(features.shape) and labels \(onehot.shape) do not fit")
    let residual = softmax(logits) - onehot                 // ∂CE_n/∂z_n, [N, C]
    let featureSums = sum(features, axes: [1])              // Σ_j h_nj, [N, 1]
    let rowSums = sum(residual * featureSums, axes: [0]) / Double(logits.shape[0])
    return stopGradient(rowSums)
}

/// Added to normalizing sums so that a constant class vector (all shifted entries zero)
/// gives the uniform off-diagonal row instead of the code's 0/0 = NaN. Relative to
/// entries normalized to sum 1, so it changes no non-degenerate target measurably.
let softLabelGuard = 1e-12
/// Below any representable non-zero sum of shifted entries (also in Float32), so that the
/// first normalization divides 0 by something non-zero without rescaling anything else.
let softLabelSumFloor = 1e-30

/// Row `y_n` of the code's `reg_gap(v)` matrix for each example: [N, C].
///
/// `reg_gap` shifts v to minimum 0 and normalizes it to sum 1; row y of its C×C matrix holds
/// `1 − cc` on the diagonal and the other entries of v rescaled to sum `cc`. Built per
/// example from the labels, no C×C matrix: target_nj = cc · u_j [j ≠ y_n] / Σ_{k≠y_n} u_k
/// + (1 − cc) [j = y_n]. Where the code divides 0 by 0 (v constant, or all of v's shifted
/// mass on class y) this gives the uniform off-diagonal row (see `softLabelGuard`).
public func softLabelTargets(_ v: Tensor, onehot: Tensor, mixing cc: Double) -> Tensor {
    precondition(v.shape == [1, onehot.shape[1]], "class vector \(v.shape) does not fit labels \(onehot.shape)")
    let shifted = v + max(-v, axes: [1])                    // v − min v ≥ 0
    let normalized = shifted / (sum(shifted, axes: [1]) + softLabelSumFloor)
    let offDiagonal = (normalized + softLabelGuard) * (1 - onehot)  // [N, C], zero at y_n
    let rowMass = sum(offDiagonal, axes: [1])               // [N, 1]
    return stopGradient(cc * offDiagonal / rowMass + (1 - cc) * onehot)
}

/// KL(target ‖ softmax z) = Σ target·(log target − log softmax z) / N for a constant
/// target; entries where the target is 0 contribute 0 (0·log 0 = 0, as PyTorch's KLDivLoss).
public func klFromTarget(_ target: Tensor, _ logits: Tensor) -> Tensor {
    let targetLogTarget = target * log(maximum(target, target.splat(softLabelSumFloor)))
    return sum(targetLogTarget - target * logSoftmax(logits)) / Double(logits.shape[0])
}

/// The code's `cc` when a recipe leaves `mixing` out: 0.8 for CIFAR-10, 0.98 for CIFAR-100,
/// extended as 0.8 up to 10 classes and 0.98 above (the code has no value for other counts).
public func authorsMixing(classes: Int) -> Double { classes <= 10 ? 0.8 : 0.98 }

/// |x| as x·sign(x), from primitives.
func absoluteValue(_ x: Tensor) -> Tensor { x * sign(x) }

/// T1 = ½[KL(reg_gap(t1_nat − t1_adv)[y] ‖ p_adv) + KL(reg_gap(t1_adv − t1_nat)[y] ‖ p_nat)]
/// with t1 = |Σ_j ∂CE/∂W_cj| of each pass.
func softLabelFirstOrder(clean: SoftLabelPass, adversarial: SoftLabelPass, onehot: Tensor, mixing: Double?) -> Tensor {
    let cc = mixing ?? authorsMixing(classes: onehot.shape[1])
    let natural = absoluteValue(classifierGradientRowSums(logits: clean.logits, features: clean.features, onehot: onehot))
    let adv = absoluteValue(classifierGradientRowSums(logits: adversarial.logits, features: adversarial.features, onehot: onehot))
    let towardsAdversarial = klFromTarget(softLabelTargets(natural - adv, onehot: onehot, mixing: cc), adversarial.logits)
    let towardsClean = klFromTarget(softLabelTargets(adv - natural, onehot: onehot, mixing: cc), clean.logits)
    return 0.5 * (towardsAdversarial + towardsClean)
}

/// T2 = ½[KL(reg_gap(t2_adv − t2_nat)[y] ‖ p_adv) + KL(reg_gap(d)[y] ‖ p_nat)] with
/// t2 = (Σ_j ∂CE/∂W_cj)², d = t2_adv − t2_nat when `repeatAdvMinusNat` (what the code
/// runs), else t2_nat − t2_adv (symmetric with T1).
func softLabelSecondOrder(clean: SoftLabelPass, adversarial: SoftLabelPass, onehot: Tensor, mixing: Double?,
                          repeatAdvMinusNat: Bool) -> Tensor {
    let cc = mixing ?? authorsMixing(classes: onehot.shape[1])
    let gNatural = classifierGradientRowSums(logits: clean.logits, features: clean.features, onehot: onehot)
    let gAdversarial = classifierGradientRowSums(logits: adversarial.logits, features: adversarial.features, onehot: onehot)
    let natural = gNatural * gNatural, adv = gAdversarial * gAdversarial
    let advMinusNatural = adv - natural
    let cleanGap = repeatAdvMinusNat ? advMinusNatural : natural - adv
    let towardsAdversarial = klFromTarget(softLabelTargets(advMinusNatural, onehot: onehot, mixing: cc), adversarial.logits)
    let towardsClean = klFromTarget(softLabelTargets(cleanGap, onehot: onehot, mixing: cc), clean.logits)
    return 0.5 * (towardsAdversarial + towardsClean)
}
