/// Counter-based randomness: every random number is a pure function of a key, so results do
/// not depend on thread timing, on how many numbers were drawn before, or on where a run was
/// resumed. The mixer is SplitMix64's finalizer (Steele, Lea, Flood 2014).
public enum KeyedRandom {
    /// Well-known 64-bit mixer: a bijection with full avalanche.
    @inline(__always)
    public static func mix(_ value: UInt64) -> UInt64 {
        var z = value &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Hash of a sequence of keys (seed, stream tag, epoch, index, …), chained through `mix`.
    @inline(__always)
    public static func hash(_ keys: UInt64...) -> UInt64 {
        var state: UInt64 = 0x6A09_E667_F3BC_C908
        for key in keys { state = mix(state ^ key) }
        return state
    }

    /// Uniform integer in 0..<bound from a 64-bit hash (Lemire's multiply-shift; the bias is
    /// below 2⁻³² for the bounds used here).
    @inline(__always)
    public static func below(_ bound: Int, _ random: UInt64) -> Int {
        Int(random.multipliedFullWidth(by: UInt64(bound)).high)
    }

    /// A permutation of 0..<count from a key (Fisher–Yates with keyed draws).
    public static func permutation(count: Int, keys: UInt64...) -> [Int] {
        var order = Array(0..<count)
        var state = keys.reduce(UInt64(0x6A09_E667_F3BC_C908)) { mix($0 ^ $1) }
        var i = count - 1
        while i > 0 {
            state = mix(state)
            let j = below(i + 1, state)
            order.swapAt(i, j)
            i -= 1
        }
        return order
    }

    /// Stream tags, so different uses of one seed never share random numbers.
    public enum Stream: UInt64 {
        case shuffle = 0x5348_5546    // "SHUF"
        case augment = 0x4155_474D    // "AUGM"
        case validationCarve = 0x5641_4C44  // "VALD"
    }
}
