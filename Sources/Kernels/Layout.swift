// Data movement and reductions over strided layouts: broadcast and transpose are one
// gather (an output walked in row-major order, reading the source through strides, 0 on
// broadcast axes); sum and max fold runs of a collapsed shape.

import CElementwise

/// Row-major strides of a shape.
public func rowMajorStrides(_ shape: [Int]) -> [Int] {
    var strides = Array(repeating: 1, count: shape.count)
    for i in stride(from: shape.count - 2, through: 0, by: -1) { strides[i] = strides[i + 1] * shape[i + 1] }
    return strides
}

/// An output shape walked in row-major order and the source stride of each of its axes.
/// Adjacent axes that walk the source contiguously are merged, so a per-channel broadcast
/// over [N,C,H,W] becomes three axes and its inner runs are fills of H·W values.
///
/// The axes are stored inline (lanes past `rank` unused), not in arrays: fused kernels copy
/// layouts once per chunk on both workers, and retaining the same arrays from two threads
/// made a fused BatchNorm pass ~5× slower than a plain one (2026-12-02, docs/performance.md).
public struct StridedLayout: Hashable, Sendable {
    /// The most merged axes a layout holds; graph tensors have at most 4 before merging.
    public static let maximumRank = 8
    public private(set) var rank: Int
    public private(set) var dims: SIMD8<Int>
    public private(set) var strides: SIMD8<Int>

    public init(outputShape: [Int], sourceStrides: [Int]) {
        var dims = [Int](), strides = [Int]()
        for (d, s) in zip(outputShape, sourceStrides) where d != 1 {
            if let lastDim = dims.last, let lastStride = strides.last, lastStride == s * d {
                dims[dims.count - 1] = lastDim * d
                strides[strides.count - 1] = s
            } else {
                dims.append(d)
                strides.append(s)
            }
        }
        if dims.isEmpty { (dims, strides) = ([1], [0]) }
        precondition(dims.count <= Self.maximumRank,
                     "a gather over \(dims.count) unmergeable axes (shape \(outputShape)); at most \(Self.maximumRank) are supported")
        rank = dims.count
        self.dims = SIMD8(repeating: 0)
        self.strides = SIMD8(repeating: 0)
        for i in 0..<rank { (self.dims[i], self.strides[i]) = (dims[i], strides[i]) }
    }

    /// Broadcasting `source` (same rank, size-1 axes expand) to `target`.
    public static func broadcast(from source: [Int], to target: [Int]) -> StridedLayout {
        let s = rowMajorStrides(source)
        return StridedLayout(outputShape: target, sourceStrides: source.indices.map { source[$0] == 1 ? 0 : s[$0] })
    }

    /// Output axis i reads source axis permutation[i].
    public static func transpose(from source: [Int], permutation: [Int]) -> StridedLayout {
        let s = rowMajorStrides(source)
        return StridedLayout(outputShape: permutation.map { source[$0] }, sourceStrides: permutation.map { s[$0] })
    }

    public var count: Int { (0..<rank).reduce(1) { $0 * dims[$1] } }

    /// The length of the runs of output elements that read one source element (a per-channel
    /// statistic read over a plane of H·W), or nil when consecutive outputs read different ones.
    public var constantRun: Int? { strides[rank - 1] == 0 ? dims[rank - 1] : nil }

    /// The layout as the C kernels read it.
    var strided: rat_strided_layout {
        var c = rat_strided_layout()
        c.rank = rank
        withUnsafeMutableBytes(of: &c.dims) { $0.storeBytes(of: dims, as: SIMD8<Int>.self) }
        withUnsafeMutableBytes(of: &c.strides) { $0.storeBytes(of: strides, as: SIMD8<Int>.self) }
        return c
    }
}

/// dst[0..<count] ← output elements start..<start+count of the layout, read from src.
public func gather(_ dst: UnsafeMutablePointer<Float>, _ src: UnsafePointer<Float>,
                   _ layout: StridedLayout, start: Int, count: Int) {
    var strided = layout.strided
    rat_gather(dst, src, &strided, start, count)
}

/// Materializes a whole gather (broadcast or transpose) on both cores.
public func gatherAll(_ dst: UnsafeMutablePointer<Float>, _ src: UnsafePointer<Float>, _ layout: StridedLayout) {
    parallelRanges(layout.count) { range, _ in
        gather(dst + range.lowerBound, src, layout, start: range.lowerBound, count: range.count)
    }
}

public enum ReductionKind: Sendable { case sum, max }

/// An input shape split into runs of reduced and kept axes (adjacent axes of the same kind
/// merged), with the output stride of each run (0 for reduced ones).
public struct ReductionLayout: Hashable, Sendable {
    public private(set) var dims: [Int] = []
    public private(set) var inputStrides: [Int] = []
    public private(set) var outputStrides: [Int] = []
    public private(set) var reduced: [Bool] = []
    public let outputCount: Int

    public init(inputShape: [Int], axes: [Int]) {
        var kinds = [(dim: Int, reduced: Bool)]()
        for (a, d) in inputShape.enumerated() where d != 1 {
            let r = axes.contains(a)
            if let last = kinds.last, last.reduced == r { kinds[kinds.count - 1].dim *= d } else { kinds.append((d, r)) }
        }
        // Keep one kept run (of size 1 for a full reduction) so the parallel split has an axis.
        if !kinds.contains(where: { !$0.reduced }) { kinds.insert((1, false), at: 0) }
        dims = kinds.map(\.dim)
        reduced = kinds.map(\.reduced)
        inputStrides = rowMajorStrides(dims)
        let keptDims = kinds.filter { !$0.reduced }.map(\.dim)
        let keptStrides = rowMajorStrides(keptDims)
        var k = 0
        for r in reduced {
            if r { outputStrides.append(0) } else { outputStrides.append(keptStrides[k]); k += 1 }
        }
        outputCount = keptDims.reduce(1, *)
    }
}

/// out ← sum or max of `input` over the layout's reduced runs. Parallel over the outermost
/// kept run, whose slices write disjoint outputs.
public func reduce(_ out: UnsafeMutablePointer<Float>, _ input: UnsafePointer<Float>,
                   _ layout: ReductionLayout, _ kind: ReductionKind) {
    out.update(repeating: kind == .sum ? 0 : -.infinity, count: layout.outputCount)
    let split = layout.reduced.firstIndex(of: false)!
    let work = layout.dims.reduce(1, *)
    parallelRanges(layout.dims[split], minimumPerWorker: max(1, 8192 * layout.dims[split] / max(work, 1))) { range, _ in
        reduceLevel(0, input, out, layout, kind, split: split, range: range)
    }
}

private func reduceLevel(_ level: Int, _ input: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>,
                         _ layout: ReductionLayout, _ kind: ReductionKind, split: Int, range: Range<Int>) {
    let n = layout.dims[level]
    let indices = level == split ? range : 0..<n
    if level == layout.dims.count - 1 {
        // Innermost run: contiguous in the input.
        if layout.reduced[level] {
            var acc: Float = -.infinity
            if kind == .sum { acc = sumRun(input, n) } else { for i in 0..<n { acc = input[i] > acc ? input[i] : acc } }
            out[0] = kind == .sum ? out[0] + acc : (acc > out[0] ? acc : out[0])
        } else if kind == .sum {
            for i in indices { out[i] += input[i] }
        } else {
            for i in indices { out[i] = input[i] > out[i] ? input[i] : out[i] }
        }
        return
    }
    for i in indices {
        reduceLevel(level + 1, input + i * layout.inputStrides[level], out + i * layout.outputStrides[level],
                    layout, kind, split: split, range: range)
    }
}

/// Sum of n contiguous floats with 16 lanes: vectorized, and each lane adds 1/16 of the
/// terms, which also keeps the Float32 rounding error of long runs small.
@inline(__always)
func sumRun(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
    var lanes = SIMD16<Float>()
    var i = 0
    let raw = UnsafeRawPointer(x)
    while i + 16 <= n {
        lanes += raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
        i += 16
    }
    var acc = lanes.sum()
    while i < n { acc += x[i]; i += 1 }
    return acc
}
