import Foundation
import Graph

// Layers are compositions of primitives with PyTorch's parameter names and initializers.
// No layer has derivative code.

/// `nn.Conv2d` (square kernel): weight [O, C/groups, K, K], optional bias [O].
/// Initializer: PyTorch's kaiming_uniform(a=√5), i.e. U(±1/√fan_in).
public func conv2d(_ x: Tensor, _ scope: Scope, _ name: String, out: Int, kernel: Int,
                   stride: Int = 1, padding: Int = 0, groups: Int = 1, bias: Bool = false,
                   initializer: Initializer? = nil) -> Tensor {
    let inChannels = x.shape[1]
    let fanIn = inChannels / groups * kernel * kernel
    let bound = 1 / Foundation.sqrt(Double(fanIn))
    let layer = scope.child(name)
    let w = layer.parameter("weight", shape: [out, inChannels / groups, kernel, kernel],
                            initializer ?? .uniform(bound: bound))
    var y = Graph::conv2d(x, w, Conv2D(stride: stride, padding: padding, groups: groups))
    if bias {
        let b = layer.parameter("bias", shape: [out], .uniform(bound: bound))
        y = y + b.reshaped([1, out, 1, 1])
    }
    return y
}

/// `nn.Linear`: x[N, I] · weightᵀ[O, I] + bias[O]. A model marks its final layer with
/// `isClassifier`, so that losses can see its input (`Scope.classifierInputs`).
public func linear(_ x: Tensor, _ scope: Scope, _ name: String, out: Int, bias: Bool = true,
                   biasInitializer: Initializer? = nil, isClassifier: Bool = false) -> Tensor {
    if isClassifier { scope.recordClassifierInput(x) }
    let bound = 1 / Foundation.sqrt(Double(x.shape[1]))
    let layer = scope.child(name)
    let w = layer.parameter("weight", shape: [out, x.shape[1]], .uniform(bound: bound))
    var y = matmul(x, w, transposeB: true)
    if bias { y = y + layer.parameter("bias", shape: [out], biasInitializer ?? .uniform(bound: bound)).reshaped([1, out]) }
    return y
}

/// `nn.BatchNorm2d` / `BatchNorm1d` over axis 1 of [N,C,H,W] or [N,C], as a composition:
/// in train mode the batch mean and variance are graph nodes, so every transform
/// differentiates through them (this is what nested forward mode needs and what a fused
/// BatchNorm kernel with a hand-written backward gets wrong). Eval mode reads the buffers.
public func batchNorm(_ x: Tensor, _ scope: Scope, _ name: String, epsilon: Double = 1e-5) -> Tensor {
    let c = x.shape[1]
    let layer = scope.child(name)
    let gamma = layer.parameter("weight", shape: [c], .constant(1))
    let beta = layer.parameter("bias", shape: [c], .constant(0))
    // Train mode only declares the running statistics (they are updated outside the graph).
    layer.declareBuffer("running_mean", shape: [c], initial: 0)
    layer.declareBuffer("running_var", shape: [c], initial: 1)
    var perChannel = Array(repeating: 1, count: x.rank)
    perChannel[1] = c
    let axes = (0..<x.rank).filter { $0 != 1 }
    let mean: Tensor, variance: Tensor
    switch scope.mode {
    case .train, .trainAcrossRanks:
        // Synchronised BN (`.trainAcrossRanks(R)`): this rank holds 1/R of the batch's rows,
        // and each statistic is the all-reduced sum of the ranks' partial sums over the global
        // count (two small all-reduces of [C] per layer and pass, and their transposes in the
        // derivatives: Graph's Rules/Collective.swift derives the scaling). One rank builds
        // the single-process graph, node for node.
        let ranks = scope.mode.statisticsRanks
        let count = x.elementCount / c * ranks
        func batchMean(_ t: Tensor) -> Tensor {
            ranks == 1 ? Graph::mean(t, axes: axes) : crossRankSum(sum(t, axes: axes), ranks: ranks) * (1 / Double(count))
        }
        mean = batchMean(x)
        let centered = x - mean
        variance = batchMean(centered * centered)
        scope.record(BatchStatistics(layer: name, mean: mean.reshaped([c]), variance: variance.reshaped([c]),
                                     elementsPerChannel: count))
        let scale = gamma.reshaped(perChannel) / sqrt(variance + epsilon)
        return centered * scale + beta.reshaped(perChannel)
    case .eval:
        mean = layer.buffer("running_mean", shape: [c], initial: 0).reshaped(perChannel)
        variance = layer.buffer("running_var", shape: [c], initial: 1).reshaped(perChannel)
        let scale = gamma.reshaped(perChannel) / sqrt(variance + epsilon)
        return (x - mean) * scale + beta.reshaped(perChannel)
    }
}
