import Foundation

/// Adversarial weight perturbation (Wu et al. 2020) as the AWP reference code runs it (docs/method.md §2).
public struct AWPSpec: Equatable, Sendable {
    public var enabled: Bool = false
    /// Relative size of the weight perturbation: `w + γ·‖w‖/‖Δw‖·Δw`.
    public var gamma: Double = 0.005
    /// Epochs trained without AWP first.
    public var warmup: Int = 10
    /// Learning rate of the proxy's single ascent step.
    public var proxyLR: Double = 0.1

    public init() {}

    static let keys = ["enabled", "gamma", "warmup", "proxy_lr"]

    init(from node: YAMLNode) throws {
        let reader = try MappingReader(node, path: "awp", known: AWPSpec.keys)
        enabled = try reader.bool("enabled", default: enabled)
        gamma = try reader.double("gamma", default: gamma)
        warmup = try reader.int("warmup", default: warmup)
        proxyLR = try reader.double("proxy_lr", default: proxyLR)
    }
}

/// Data-parallel training under mpirun (docs/distributed.md).
public struct DistributedSpec: Equatable, Sendable {
    /// BatchNorm statistics of the whole global batch instead of each rank's share.
    public var syncBN: Bool = false

    public init() {}

    static let keys = ["sync_bn"]

    init(from node: YAMLNode) throws {
        let reader = try MappingReader(node, path: "distributed", known: DistributedSpec.keys)
        syncBN = try reader.bool("sync_bn", default: syncBN)
    }
}

public struct OptimSpec: Equatable, Sendable {
    public enum Kind: String, CaseIterable, Sendable { case sgd }

    public var kind: Kind = .sgd
    /// The initial learning rate; `schedule.lr` scales it over epochs.
    public var lr: Double = 0.1
    public var momentum: Double = 0.9
    public var nesterov: Bool = false
    /// Applied to all parameters, BatchNorm included, as the reference code does.
    public var weightDecay: Double = 5e-4

    public init() {}

    static let keys = ["kind", "lr", "momentum", "nesterov", "weight_decay"]

    init(from node: YAMLNode) throws {
        let reader = try MappingReader(node, path: "optim", known: OptimSpec.keys)
        kind = try reader.choice("kind", default: kind)
        lr = try reader.double("lr", default: lr)
        momentum = try reader.double("momentum", default: momentum)
        nesterov = try reader.bool("nesterov", default: nesterov)
        weightDecay = try reader.double("weight_decay", default: weightDecay)
    }
}

/// How the learning rate changes over epochs, as a multiple of `optim.lr`.
public enum LRSchedule: Equatable, Sendable {
    /// Multiply by `factor` at each milestone epoch (the paper: ×0.1 at 100 and 150).
    case piecewise(milestones: [Int], factor: Double)
    /// Cosine decay from `optim.lr` to `finalLR` over all epochs.
    case cosine(finalLR: Double)
    case constant

    public static let paper = LRSchedule.piecewise(milestones: [100, 150], factor: 0.1)

    enum Kind: String, CaseIterable { case piecewise, cosine, constant }

    var kind: Kind {
        switch self {
        case .piecewise: return .piecewise
        case .cosine: return .cosine
        case .constant: return .constant
        }
    }

    /// The multiplier of `optim.lr` during `epoch` (0-based).
    public func factor(atEpoch epoch: Int, of epochs: Int) -> Double {
        switch self {
        case .piecewise(let milestones, let factor):
            return milestones.reduce(1) { epoch >= $1 ? $0 * factor : $0 }
        case .cosine(let finalLR):
            let progress = Double(epoch) / Double(max(epochs, 1))
            return finalLR + (1 - finalLR) * 0.5 * (1 + cos(Double.pi * progress))
        case .constant:
            return 1
        }
    }

    init(from node: YAMLNode) throws {
        let keys = ["kind", "milestones", "factor", "final_lr"]
        let reader = try MappingReader(node, path: "schedule.lr", known: keys)
        let kind = try reader.choice("kind", default: Kind.piecewise)
        let allowed: [String] = switch kind {
        case .piecewise: ["kind", "milestones", "factor"]
        case .cosine: ["kind", "final_lr"]
        case .constant: ["kind"]
        }
        for entry in reader.entries where !allowed.contains(entry.key) {
            throw RecipeError("'\(entry.key)' does not apply to a \(kind.rawValue) schedule", at: entry.keyLocation)
        }
        switch kind {
        case .piecewise:
            var milestones = [100, 150]
            if let node = reader.child("milestones") {
                milestones = try readSequence(node, path: "schedule.lr.milestones").enumerated().map {
                    try readInt($1, path: "schedule.lr.milestones.\($0)")
                }
            }
            self = .piecewise(milestones: milestones, factor: try reader.double("factor", default: 0.1))
        case .cosine:
            self = .cosine(finalLR: try reader.double("final_lr", default: 0))
        case .constant:
            self = .constant
        }
    }
}

public struct ScheduleSpec: Equatable, Sendable {
    public var epochs: Int = 200
    public var batch: Int = 128
    public var lr: LRSchedule = .paper

    public init() {}

    static let keys = ["epochs", "batch", "lr"]

    init(from node: YAMLNode) throws {
        let reader = try MappingReader(node, path: "schedule", known: ScheduleSpec.keys)
        epochs = try reader.int("epochs", default: epochs)
        batch = try reader.int("batch", default: batch)
        if let lrNode = reader.child("lr") { lr = try LRSchedule(from: lrNode) }
    }
}
