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
    /// The full shape of every parameter and buffer, in PyTorch's layout (OIHW convolutions,
    /// [out, in] linears, [C] BatchNorm): what checkpoints are written with and checked against.
    public var shapes: [String: [Int]]
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
        self.shapes = Dictionary(uniqueKeysWithValues: parameters.map { ($0.name, $0.shape) } + buffers.map { ($0.name, $0.shape) })
        epoch = 0
        batch = 0
        step = 0
        bestMetric = -.infinity
    }
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
