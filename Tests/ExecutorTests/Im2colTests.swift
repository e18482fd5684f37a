import Kernels
import Testing

/// The per-plane im2col / col2im against the element-by-element reference kernels: pure
/// data movement, so bit-identical (col2im sums its taps in the reference's order).
@Suite struct Im2colMatchesReference {
    static let shapes = [
        ConvShape(n: 2, c: 5, h: 9, w: 9, o: 6, k: 3, stride: 1, padding: 1, groups: 1),
        ConvShape(n: 2, c: 3, h: 8, w: 8, o: 2, k: 3, stride: 1, padding: 0, groups: 1),
        ConvShape(n: 2, c: 2, h: 13, w: 11, o: 2, k: 5, stride: 1, padding: 2, groups: 1),
        ConvShape(n: 2, c: 4, h: 10, w: 10, o: 8, k: 3, stride: 2, padding: 1, groups: 1),
        ConvShape(n: 3, c: 3, h: 11, w: 13, o: 2, k: 3, stride: 2, padding: 1, groups: 1),
        ConvShape(n: 2, c: 3, h: 33, w: 35, o: 2, k: 3, stride: 2, padding: 1, groups: 1),  // SIMD rows + tails
        ConvShape(n: 2, c: 2, h: 32, w: 32, o: 2, k: 3, stride: 2, padding: 0, groups: 1),
        ConvShape(n: 1, c: 6, h: 7, w: 7, o: 6, k: 3, stride: 2, padding: 0, groups: 3),
        ConvShape(n: 2, c: 3, h: 12, w: 12, o: 2, k: 2, stride: 2, padding: 0, groups: 1),
        ConvShape(n: 2, c: 8, h: 6, w: 6, o: 4, k: 1, stride: 1, padding: 0, groups: 1),
        ConvShape(n: 2, c: 8, h: 6, w: 7, o: 4, k: 1, stride: 2, padding: 0, groups: 1),
        ConvShape(n: 2, c: 3, h: 34, w: 35, o: 2, k: 1, stride: 2, padding: 0, groups: 1),  // SIMD rows + tails
        ConvShape(n: 2, c: 3, h: 5, w: 5, o: 2, k: 1, stride: 1, padding: 1, groups: 1),
        ConvShape(n: 2, c: 3, h: 4, w: 4, o: 2, k: 3, stride: 1, padding: 1, groups: 1),    // rows of 4
        ConvShape(n: 2, c: 2, h: 14, w: 14, o: 2, k: 3, stride: 1, padding: 0, groups: 1),  // rows of 8 + 4
        ConvShape(n: 2, c: 2, h: 10, w: 9, o: 2, k: 3, stride: 3, padding: 1, groups: 1),  // generic stride
        ConvShape(n: 6, c: 4, h: 32, w: 32, o: 4, k: 3, stride: 1, padding: 1, groups: 2), // 4 images per block: partial last
    ]

    /// Elements whose bit patterns differ (NaN sentinels included).
    static func differing(_ a: [Float], _ b: [Float]) -> Int {
        zip(a, b).filter { $0.bitPattern != $1.bitPattern }.count
    }

    /// Calls body(first, images, g) per block and group, as the convolutions do.
    static func overBlocks(_ s: ConvShape, _ body: (Int, Int, Int) -> Void) {
        for first in stride(from: 0, to: s.n, by: s.imagesPerBlock) {
            for g in 0..<s.groups { body(first, min(s.imagesPerBlock, s.n - first), g) }
        }
    }

    @Test(arguments: shapes)
    func im2colIsBitIdentical(_ s: ConvShape) {
        let x = FastKernelsMatchNaive.random(s.n * s.c * s.inPlane, seed: 1)
        let ld = s.blockColumns + 5  // a row stride wider than the block: nothing past it is written
        Self.overBlocks(s) { first, images, g in
            var fast = [Float](repeating: .nan, count: s.colRows * ld), reference = fast
            im2col(&fast, rowStride: ld, x, firstImage: first, images: images, group: g, s)
            im2colReference(&reference, rowStride: ld, x, firstImage: first, images: images, group: g, s)
            #expect(Self.differing(fast, reference) == 0, "\(s) block \(first) group \(g)")
        }
    }

    @Test(arguments: shapes)
    func col2imIsBitIdentical(_ s: ConvShape) {
        let ld = s.blockColumns + 5
        let col = FastKernelsMatchNaive.random(s.colRows * ld, seed: 2)
        let start = FastKernelsMatchNaive.random(s.n * s.c * s.inPlane, seed: 3)
        // Written: the fast kernel overwrites whatever dx held; the reference adds to zeros.
        var fast = start, reference = [Float](repeating: 0, count: start.count)
        // Accumulated: both add to the same dx (sums in another order: close, not identical).
        var fastSum = start, referenceSum = start
        Self.overBlocks(s) { first, images, g in
            let args = (first, images, g)
            fast.withUnsafeMutableBufferPointer { dx in
                col2im(ChannelSplit(dx.baseAddress!, channels: s.c, plane: s.inPlane), firstImage: args.0,
                       images: args.1, group: args.2, col, rowStride: ld, s)
            }
            reference.withUnsafeMutableBufferPointer { dx in
                col2imReference(ChannelSplit(dx.baseAddress!, channels: s.c, plane: s.inPlane), firstImage: args.0,
                                images: args.1, group: args.2, col, rowStride: ld, s)
            }
            fastSum.withUnsafeMutableBufferPointer { dx in
                col2im(ChannelSplit(dx.baseAddress!, channels: s.c, plane: s.inPlane), firstImage: args.0,
                       images: args.1, group: args.2, col, rowStride: ld, s, accumulate: true)
            }
            referenceSum.withUnsafeMutableBufferPointer { dx in
                col2imReference(ChannelSplit(dx.baseAddress!, channels: s.c, plane: s.inPlane), firstImage: args.0,
                                images: args.1, group: args.2, col, rowStride: ld, s)
            }
        }
        #expect(Self.differing(fast, reference) == 0, "\(s)")
        #expect(FastKernelsMatchNaive.maxRelativeDifference(fastSum, referenceSum) < 1e-6, "\(s)")
    }

    /// Whole convolutions (block loops; the input gradient's gemm accumulating into a col
    /// that col2im clears) against the same loops with the reference kernels.
    @Test(arguments: [
        ConvShape(n: 6, c: 4, h: 32, w: 32, o: 6, k: 3, stride: 1, padding: 1, groups: 2),  // partial last block
        ConvShape(n: 20, c: 8, h: 16, w: 16, o: 16, k: 3, stride: 2, padding: 1, groups: 1),
        ConvShape(n: 3, c: 6, h: 11, w: 13, o: 4, k: 3, stride: 2, padding: 0, groups: 2),
        ConvShape(n: 4, c: 8, h: 9, w: 9, o: 12, k: 1, stride: 2, padding: 0, groups: 1),
        ConvShape(n: 2, c: 4, h: 10, w: 9, o: 4, k: 3, stride: 3, padding: 1, groups: 1),
        ConvShape(n: 3, c: 4, h: 8, w: 8, o: 4, k: 1, stride: 2, padding: 0, groups: 2),     // 1×1, image-major
        ConvShape(n: 3, c: 4, h: 9, w: 9, o: 4, k: 3, stride: 2, padding: 1, groups: 4),     // depthwise
        ConvShape(n: 2, c: 2, h: 19, w: 21, o: 3, k: 5, stride: 2, padding: 2, groups: 1),
        ConvShape(n: 2, c: 2, h: 100, w: 100, o: 2, k: 3, stride: 2, padding: 1, groups: 1), // phases on the heap
    ])
    func convolutionsAreBitIdentical(_ s: ConvShape) {
        #expect(convolutionKernelsAgree(s), "\(s)")
    }

    /// col2im into channels spread over two tensors (a merged input gradient) writes what
    /// it writes into one tensor.
    @Test func col2imIntoChannelSplit() {
        let s = ConvShape(n: 3, c: 5, h: 16, w: 16, o: 4, k: 3, stride: 2, padding: 1, groups: 1)
        let ld = s.blockColumns
        let col = FastKernelsMatchNaive.random(s.colRows * ld, seed: 4)
        var whole = [Float](repeating: .nan, count: s.n * s.c * s.inPlane)
        var first3 = [Float](repeating: .nan, count: s.n * 3 * s.inPlane)
        var last2 = [Float](repeating: .nan, count: s.n * 2 * s.inPlane)
        whole.withUnsafeMutableBufferPointer { w in
            first3.withUnsafeMutableBufferPointer { a in
                last2.withUnsafeMutableBufferPointer { b in
                    let split = ChannelSplit(parts: [(a.baseAddress!, 3), (b.baseAddress!, 2)], plane: s.inPlane)
                    Self.overBlocks(s) { first, images, g in
                        col2im(ChannelSplit(w.baseAddress!, channels: s.c, plane: s.inPlane), firstImage: first,
                               images: images, group: g, col, rowStride: ld, s)
                        col2im(split, firstImage: first, images: images, group: g, col, rowStride: ld, s)
                    }
                }
            }
        }
        for n in 0..<s.n {
            for c in 0..<s.c {
                let plane = Array(whole[((n * s.c + c) * s.inPlane)...].prefix(s.inPlane))
                let part = c < 3 ? Array(first3[((n * 3 + c) * s.inPlane)...].prefix(s.inPlane))
                                 : Array(last2[((n * 2 + c - 3) * s.inPlane)...].prefix(s.inPlane))
                #expect(Self.differing(plane, part) == 0, "image \(n) channel \(c)")
            }
        }
    }
}
