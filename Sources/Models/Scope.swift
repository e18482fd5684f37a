import Graph

/// How a parameter starts. PyTorch's defaults, so rat and the reference code start alike.
public enum Initializer: Hashable, Sendable {
    case constant(Double)
    /// U(−bound, bound).
    case uniform(bound: Double)
    /// N(0, std²).
    case normal(std: Double)
}

public struct ParameterInfo: Hashable, Sendable {
    /// PyTorch-style path, e.g. `layer1.0.conv1.weight`; also the graph input's name.
    public var name: String
    public var shape: [Int]
    public var initializer: Initializer
    public var count: Int { shape.reduce(1, *) }
}

/// A BatchNorm buffer (`running_mean`, `running_var`), fed as an input in eval mode.
public struct BufferInfo: Hashable, Sendable {
    public var name: String
    public var shape: [Int]
    public var initial: Double
}

/// Batch statistics a train-mode BatchNorm computed, returned so that the training loop
/// can update the running statistics once per step (outside the differentiated graph).
public struct BatchStatistics {
    /// Layer path, e.g. `layer1.0.bn1`.
    public var layer: String
    public var mean: Tensor      // [C]
    public var variance: Tensor  // [C], biased (divided by the element count)
    public var elementsPerChannel: Int
}

/// How BatchNorm normalises: by the batch's statistics (train) or the running ones (eval).
public enum NormalizationMode: Hashable, Sendable {
    case train, eval
    /// Train mode on one rank's share of a batch split over `ranks` data-parallel ranks, with
    /// the statistics of the whole batch (`distributed.sync_bn`): the graph all-reduces them.
    case trainAcrossRanks(Int)

    /// Train mode over a group of `ranks`: plain `.train` for one (the single-process graph).
    public static func train(synchronizedOver ranks: Int) -> NormalizationMode {
        ranks > 1 ? .trainAcrossRanks(ranks) : .train
    }

    /// The ranks whose rows a train-mode batch statistic covers (1 unless synchronised).
    public var statisticsRanks: Int {
        if case .trainAcrossRanks(let ranks) = self { return ranks }
        return 1
    }
}

/// Where a model declares its parameters while it builds its forward pass. Names nest by
/// `child(_:)`, giving PyTorch's dotted paths. Declaring the same parameter twice (a
/// second forward pass in one graph) returns the same input.
public final class Scope {
    public let builder: GraphBuilder
    public let mode: NormalizationMode
    let prefix: String
    let registry: Registry

    final class Registry {
        var parameters: [ParameterInfo] = []
        var buffers: [BufferInfo] = []
        var statistics: [BatchStatistics] = []
        var classifierInputs: [Tensor] = []
        var seen: Set<String> = []
        /// What a parameter's reads become (nil: the parameter itself).
        var perturbation: ((_ name: String, _ weight: Tensor) -> Tensor)?
    }

    public init(builder: GraphBuilder, mode: NormalizationMode) {
        self.builder = builder
        self.mode = mode
        self.prefix = ""
        self.registry = Registry()
    }

    /// A scope whose layers read `perturbation(name, w)` wherever they would read the
    /// parameter w: the randomized model f_{w+u} is a forward pass in such a scope.
    /// Parameters are still declared (and fed) under their own names.
    public convenience init(builder: GraphBuilder, mode: NormalizationMode,
                            perturbation: @escaping (_ name: String, _ weight: Tensor) -> Tensor) {
        self.init(builder: builder, mode: mode)
        registry.perturbation = perturbation
    }

    init(parent: Scope, name: String) {
        builder = parent.builder
        mode = parent.mode
        prefix = parent.prefix + name + "."
        registry = parent.registry
    }

    public func child(_ name: String) -> Scope { Scope(parent: self, name: name) }

    public func parameter(_ name: String, shape: [Int], _ initializer: Initializer) -> Tensor {
        let full = prefix + name
        if registry.seen.insert(full).inserted {
            registry.parameters.append(ParameterInfo(name: full, shape: shape, initializer: initializer))
        }
        let weight = builder.input(full, shape: shape)
        return registry.perturbation?(full, weight) ?? weight
    }

    /// Declares a buffer (part of the model's state and checkpoints) without reading it.
    public func declareBuffer(_ name: String, shape: [Int], initial: Double) {
        let full = prefix + name
        if registry.seen.insert(full).inserted {
            registry.buffers.append(BufferInfo(name: full, shape: shape, initial: initial))
        }
    }

    /// Declares a buffer and reads it as a graph input.
    public func buffer(_ name: String, shape: [Int], initial: Double) -> Tensor {
        declareBuffer(name, shape: shape, initial: initial)
        return builder.input(prefix + name, shape: shape)
    }

    /// Called by the final linear layer (`linear(…, isClassifier: true)`) with its input.
    func recordClassifierInput(_ features: Tensor) {
        registry.classifierInputs.append(features)
    }

    func record(_ statistics: BatchStatistics) {
        var s = statistics
        s.layer = prefix + statistics.layer
        registry.statistics.append(s)
    }

    public var parameters: [ParameterInfo] { registry.parameters }
    public var buffers: [BufferInfo] { registry.buffers }
    /// Train-mode BatchNorm statistics in the order the layers ran (one per forward pass).
    public var statistics: [BatchStatistics] { registry.statistics }
    /// The penultimate features h [N, F] (the input of the model's final linear layer), one
    /// per forward pass in the order the passes ran. The authors' soft-label terms read their
    /// statistic Σ_j ∂CE/∂W_cj from them; recording a tensor changes no parameter name.
    public var classifierInputs: [Tensor] { registry.classifierInputs }
}
