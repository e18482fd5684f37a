// Convolutions that share an operand, computed as one (the planner's merge pass):
//   conv2d(x, w₁), conv2d(x, w₂), …          one im2col of x, one gemm with the filters
//                                            stacked along O; output rows scattered to
//                                            each yₖ (J·u makes conv(x, w) and conv(x, u))
//   conv2dInputGrad(dy, w₁), (dy, w₂), …     one gather of dy, one gemm with the filters
//                                            stacked along C, col2im into each dxₖ
// The NCHW tensors that together hold the stacked channels are a `ChannelSplit`.

/// Channels 0..<C of a logical [N, C, plane] tensor stored as several NCHW tensors
/// [N, Cₖ, plane] with ΣCₖ = C, in order.
public struct ChannelSplit {
    /// The first tensor, and the others (empty, so not allocated, for an unmerged
    /// convolution: the kernels build one per call inside `Executor.run`).
    private var first: (start: UnsafeMutablePointer<Float>, channels: Int)
    private var rest: [(start: UnsafeMutablePointer<Float>, channels: Int)]
    public var plane: Int

    public init(parts: [(start: UnsafeMutablePointer<Float>, channels: Int)], plane: Int) {
        (first, rest, self.plane) = (parts[0], Array(parts.dropFirst()), plane)
    }

    public init(_ start: UnsafeMutablePointer<Float>, channels: Int, plane: Int) {
        (first, rest, self.plane) = ((start, channels), [], plane)
    }

    /// The tensors in channel order, with their channel counts.
    public var parts: [(start: UnsafeMutablePointer<Float>, channels: Int)] { [first] + rest }

    /// The plane of channel c of image n.
    @inline(__always)
    func channel(_ c: Int, ofImage n: Int) -> UnsafeMutablePointer<Float> {
        if c < first.channels { return first.start + (n * first.channels + c) * plane }
        var c = c - first.channels
        for part in rest {
            if c < part.channels { return part.start + (n * part.channels + c) * plane }
            c -= part.channels
        }
        preconditionFailure("channel out of range")
    }

    func zero(images: Int) {
        first.start.update(repeating: 0, count: images * first.channels * plane)
        for part in rest { part.start.update(repeating: 0, count: images * part.channels * plane) }
    }
}

/// stacked[ΣOₖ, C·K·K] ← the filters wₖ[Oₖ, C, K, K] one after another (for a shared input).
public func stackAlongOutput(_ stacked: UnsafeMutablePointer<Float>, _ filters: [(UnsafePointer<Float>, count: Int)]) {
    var offset = 0
    for (w, count) in filters {
        (stacked + offset).update(from: w, count: count)
        offset += count
    }
}

/// stacked[O, ΣCₖ, K, K] ← the filters wₖ[O, Cₖ, K, K] side by side along C (for a shared
/// output gradient: the gemm's rows are then the col rows of every dxₖ).
public func stackAlongInput(_ stacked: UnsafeMutablePointer<Float>, _ filters: [(UnsafePointer<Float>, count: Int)],
                            outputs o: Int) {
    let rowLength = filters.reduce(0) { $0 + $1.count / o }
    var offset = 0
    for (w, count) in filters {
        let length = count / o  // Cₖ·K·K
        for row in 0..<o { (stacked + row * rowLength + offset).update(from: w + row * length, count: length) }
        offset += length
    }
}
