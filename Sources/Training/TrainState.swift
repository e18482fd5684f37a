import Foundation
import Graph
import Models

/// Everything a run carries from step to step, and all that a checkpoint must hold for a
/// bit-identical resume: parameters, BN buffers, momentum, and the position in the data.
/// Randomness is keyed by (seed, epoch, batch), so no generator state needs saving.
public struct TrainState {
    public var parameters: [String: [Float]]
    public var buffers: [String: [Float]]
    public var momentum: [String: [Float]]
    /// Position of the next step.
    public var epoch: Int
    public var batch: Int
    public var step: Int
    public var bestMetric: Double

    public init(parameters: [ParameterInfo], buffers: [BufferInfo], seed: UInt64) {
        var rng = SplitMix64(seed: seed ^ 0x5EED_1417)
        var values = [String: [Float]]()
        for p in parameters {
            values[p.name] = (0..<p.count).map { _ in
                switch p.initializer {
                case .constant(let v): Float(v)
                case .uniform(let bound): Float((rng.uniform() * 2 - 1) * bound)
                case .normal(let std): Float(rng.normal() * std)
                }
            }
        }
        self.parameters = values
        self.buffers = Dictionary(uniqueKeysWithValues: buffers.map { ($0.name, [Float](repeating: Float($0.initial), count: $0.shape.reduce(1, *))) })
        self.momentum = values.mapValues { [Float](repeating: 0, count: $0.count) }
        epoch = 0
        batch = 0
        step = 0
        bestMetric = -.infinity
    }
}

/// A keyed stream: the same (seed, epoch, batch, purpose) always gives the same numbers,
/// whatever ran before, so resumed runs draw what uninterrupted ones drew.
public func keyedGenerator(seed: UInt64, epoch: Int, batch: Int, purpose: UInt64) -> SplitMix64 {
    var mixer = SplitMix64(seed: seed &* 0x9E37_79B9_7F4A_7C15 ^ purpose)
    // Bit patterns: evaluation keys its attacks by negative epochs (-1 - k), which a checked
    // UInt64(_:) traps on (-Ounchecked used to let them through as these same bits).
    let (e, b) = (UInt64(bitPattern: Int64(epoch)), UInt64(bitPattern: Int64(batch)))
    var g = SplitMix64(seed: mixer.next() ^ e &* 0xD1B5_4A32_D192_ED03 ^ b &* 0x8CB9_2BA7_2F3D_8DD7)
    _ = g.next()
    return g
}

extension Array where Element == Float {
    /// Standard normal draws times `scale`.
    static func normal(count: Int, scale: Double, _ rng: inout SplitMix64) -> [Float] {
        (0..<count).map { _ in Float(rng.normal() * scale) }
    }
}

/// SGD with momentum and weight decay, exactly PyTorch's update:
/// d = g + λw; v = μv + d; w −= lr·(nesterov ? d + μv : v).
func sgdUpdate(weights w: inout [Float], gradient g: UnsafeBufferPointer<Float>, velocity v: inout [Float],
               lr: Float, momentum mu: Float, weightDecay wd: Float, nesterov: Bool) {
    w.withUnsafeMutableBufferPointer { w in
        v.withUnsafeMutableBufferPointer { v in
            for i in 0..<w.count {
                let d = g[i] + wd * w[i]
                v[i] = mu * v[i] + d
                w[i] -= lr * (nesterov ? d + mu * v[i] : v[i])
            }
        }
    }
}
