// The one collective primitive: y = Σ_ranks x over a data-parallel group, which lets a
// train-mode BatchNorm compute its batch statistics over the global batch while each rank
// holds only its share of the rows (`distributed.sync_bn`).
//
// Its derivatives are the same sum, unscaled. Why, against the objective data-parallel
// training optimises: R ranks hold n = B/R rows each; rank r's loss L_r is a mean over its
// rows, and the update uses ḡ = (1/R)·Σ_r g_r, the average of what each rank's vjp gives.
// That is the gradient of L = (1/R)·Σ_r L_r, the global batch's mean, when g_r is rank r's
// share of ∇L times R. y = Σ_r x_r is read by every rank's L_r, so
//   ∂L/∂x_r = (1/R)·Σ_r' ∂L_r'/∂y = (1/R)·Σ_r' ȳ_r'     (ȳ_r' the cotangent rank r' holds),
// and rank r must propagate R·∂L/∂x_r = Σ_r' ȳ_r' into x_r:  vjp  x̄ = Σ_ranks ȳ.
// Paths that avoid y are each rank's own and their average is already the global one.
// Forward mode: the tangent direction (the keyed weight noise u) is the same on every rank,
// so ẏ = Σ_r ẋ_r:  jvp  ẏ = Σ_ranks ẋ. The two are adjoint summed over the ranks
// (x̄ and ẏ are the same on every rank: Σ_r ⟨x̄, ẋ_r⟩ = ⟨Σ_r' ȳ_r', Σ_r ẋ_r⟩ = Σ_r' ⟨ȳ_r', ẏ⟩),
// and they nest like every linear rule.
// BatchNorm's 1/(count) then uses the global count (Models' batchNorm).

/// The sum over the ranks of a data-parallel group, run for `crossRankSum` nodes by the
/// executor (Float) and the reference interpreter (Double). The graph modules know only this
/// protocol; Training adapts its MPI communicator to it.
///
/// Thread-safety: a rank calls it from one thread at a time (the thread running its
/// executors), and every rank makes the same calls in the same order (the ranks run the same
/// graphs in the same order): the collective pairs the ranks' calls by that order.
/// Implementations must not allocate per call if they are used in training steps.
public protocol CrossRankReduction: AnyObject, Sendable {
    /// The group's size; a graph's `crossRankSum(ranks:)` must equal it.
    var ranks: Int { get }
    /// Replaces `values` with their element-wise sum over the group, on every rank.
    func sum(_ values: UnsafeMutableBufferPointer<Float>)
    func sum(_ values: UnsafeMutableBufferPointer<Double>)
}

/// Linear and self-adjoint summed over ranks (see above): both derivatives are the same sum.
func crossRankSumRule(_ ranks: Int) -> Rule {
    Rule(
        reference: { _, node in
            preconditionFailure("\(node.op) communicates: evaluateReference runs it with its CrossRankReduction")
        },
        jvp: { d in d.tangents[0].map { crossRankSum($0, ranks: ranks) } },
        vjp: { d in [crossRankSum(d.cotangent, ranks: ranks)] })
}

/// Σ_ranks x over a group of `ranks` processes. A group of one adds no node (the graph is
/// the single-process one); a splat constant is the same on every rank and folds to R·c.
public func crossRankSum(_ x: Tensor, ranks: Int) -> Tensor {
    precondition(ranks >= 1, "crossRankSum over \(ranks) ranks")
    if ranks == 1 { return x }
    if let v = x.constantValue { return x.builder.constant(v * Double(ranks), shape: x.shape) }
    return x.builder.make(.crossRankSum(ranks: ranks), [x], shape: x.shape)
}
