import Foundation

/// A seeded, counter-free generator (SplitMix64) for tests, gradient checks and
/// initialization: the same seed gives the same stream on every machine.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Moves the stream `draws` calls of `next()` ahead in O(1) (SplitMix64's state is a
    /// counter): a rank of a data-parallel run skips the draws of the rows before its own.
    public mutating func skip(_ draws: Int) {
        precondition(draws >= 0, "SplitMix64.skip(\(draws)): a stream only moves forward")
        state &+= 0x9E37_79B9_7F4A_7C15 &* UInt64(draws)
    }

    /// Uniform in [0, 1).
    public mutating func uniform() -> Double { Double(next() >> 11) * 0x1p-53 }

    /// Standard normal (Box–Muller).
    public mutating func normal() -> Double {
        let u1 = Swift.max(uniform(), 0x1p-60), u2 = uniform()
        return Foundation.sqrt(-2 * Foundation.log(u1)) * Foundation.cos(2 * Double.pi * u2)
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

extension DTensor {
    public static func normal(_ shape: [Int], scale: Double = 1, _ rng: inout SplitMix64) -> DTensor {
        DTensor(shape: shape, data: (0..<shape.reduce(1, *)).map { _ in rng.normal() * scale })
    }

    public static func uniform(_ shape: [Int], in range: ClosedRange<Double>, _ rng: inout SplitMix64) -> DTensor {
        DTensor(shape: shape, data: (0..<shape.reduce(1, *)).map { _ in range.lowerBound + rng.uniform() * (range.upperBound - range.lowerBound) })
    }

    /// a + s·b, elementwise.
    public func adding(_ other: DTensor, scaledBy s: Double) -> DTensor {
        DTensor(shape: shape, data: zip(data, other.data).map { $0 + s * $1 })
    }

    public func dot(_ other: DTensor) -> Double { zip(data, other.data).reduce(0) { $0 + $1.0 * $1.1 } }

    public var norm: Double { Foundation.sqrt(dot(self)) }
}

/// ‖a − b‖ / max(‖a‖, ‖b‖), 0 when both are zero: a norm-wise relative error.
public func relativeError(_ a: DTensor, _ b: DTensor) -> Double {
    let scale = Swift.max(a.norm, b.norm)
    return scale == 0 ? 0 : a.adding(b, scaledBy: -1).norm / scale
}
