// Convolution as im2col + sgemm, with its two transposes (the vjp in x and in w).
// Images are processed in blocks of B: col[CgKK, B·OH·OW] holds the patches of B images
// side by side, so each gemm is wide (one image of a late layer gives N = 64 columns,
// which runs far below the sgemm peak; a block gives thousands). Per block and group:
//   forward:          t[Og, B·OHW] = w[g] · col,       scattered into y[n, g·Og + o]
//   input gradient:   dcol = w[g]ᵀ · dy[g] (gathered),  dx[block, g] = col2im(dcol)
//   filter gradient:  dw[g] += dy[g] · colᵀ            (accumulated over blocks)

/// Sizes of one convolution: x[N,C,H,W] ⊛ w[O,C/G,K,K] → y[N,O,OH,OW].
public struct ConvShape: Hashable, Sendable {
    public var n, c, h, w, o, k, stride, padding, groups, oh, ow: Int

    public init(n: Int, c: Int, h: Int, w: Int, o: Int, k: Int, stride: Int, padding: Int, groups: Int) {
        (self.n, self.c, self.h, self.w, self.o, self.k) = (n, c, h, w, o, k)
        (self.stride, self.padding, self.groups) = (stride, padding, groups)
        oh = (h + 2 * padding - k) / stride + 1
        ow = (w + 2 * padding - k) / stride + 1
    }

    public var cg: Int { c / groups }
    public var og: Int { o / groups }
    public var colRows: Int { cg * k * k }
    public var outPlane: Int { oh * ow }
    public var inPlane: Int { h * w }
    /// Images per gemm: enough columns (~4K) to run near the sgemm peak, col ≤ 16M floats.
    /// (4K columns ran small-cnn's trades step 3–6 % faster than 16K in side-by-side runs:
    /// a layer-2 col block is then 4.7 MB instead of 19 MB, and stays in L3 for the gemm.)
    public var imagesPerBlock: Int {
        let wanted = max(1, 4_096 / outPlane)
        let fit = max(1, 16_777_216 / max(1, colRows * outPlane))
        return min(n, wanted, fit)
    }
    public var blockColumns: Int { imagesPerBlock * outPlane }
    /// Floats of scratch one call needs: a block's col and its gathered output rows.
    public var scratchElements: Int { (colRows + og) * blockColumns }
    /// Multiply-adds × 2 of the forward (and of each transpose).
    public var flops: Int { 2 * n * o * outPlane * colRows }
}

/// Moves Og output rows of B images between NCHW y and a block t[Og, B·OHW].
func copyBlockRows(_ s: ConvShape, firstImage: Int, images: Int, group g: Int,
                   _ y: ChannelSplit, _ t: UnsafeMutablePointer<Float>, toBlock: Bool) {
    let plane = s.outPlane, ld = s.blockColumns
    parallelRanges(s.og * images, minimumPerWorker: max(1, 16_384 / plane)) { rows, _ in
        for r in rows {
            let (o, i) = (r / images, r % images)
            let image = y.channel(g * s.og + o, ofImage: firstImage + i)
            let block = t + o * ld + i * plane
            if toBlock { block.update(from: image, count: plane) } else { image.update(from: block, count: plane) }
        }
    }
}

public func conv2dForward(_ y: UnsafeMutablePointer<Float>,   // [N,O,OH,OW]
                          _ x: UnsafePointer<Float>,          // [N,C,H,W]
                          _ w: UnsafePointer<Float>,          // [O,Cg,K,K]
                          _ s: ConvShape,
                          scratch: UnsafeMutablePointer<Float>) { // col [CgKK, B·OHW], t [Og, B·OHW]
    conv2dForward(ChannelSplit(y, channels: s.o, plane: s.outPlane), x, w, s, scratch: scratch)
}

/// The forward with its output channels spread over several tensors (merged convolutions).
public func conv2dForward(_ y: ChannelSplit, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ s: ConvShape,
                          scratch: UnsafeMutablePointer<Float>) {
    if s.usesDirectKernels { return conv2dForwardDirect(y, x, w, s, scratch: scratch) }
    conv2dForwardBlocks(y, x, w, s, scratch: scratch, kernels: .fast)
}

/// Which im2col / col2im the block loops call: the fast ones, or the references (timed
/// side by side in `convolutionKernelTimings`).
enum ColumnKernels { case fast, reference }

func conv2dForwardBlocks(_ y: ChannelSplit, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ s: ConvShape,
                         scratch: UnsafeMutablePointer<Float>, kernels: ColumnKernels) {
    let col = scratch, t = scratch + s.colRows * s.blockColumns, ld = s.blockColumns
    // (Unlike the input gradient's col, t is small: zeroing it as copyBlockRows empties it,
    // to spare OpenBLAS's beta-0 pass, made no measurable difference.)
    for first in stride(from: 0, to: s.n, by: s.imagesPerBlock) {
        let images = min(s.imagesPerBlock, s.n - first)
        for g in 0..<s.groups {
            im2col(col, rowStride: ld, x, firstImage: first, images: images, group: g, s, kernels)
            sgemm(t, ldc: ld, w + g * s.og * s.colRows, lda: s.colRows, transposeA: false,
                  col, ldb: ld, transposeB: false, m: s.og, n: images * s.outPlane, k: s.colRows)
            copyBlockRows(s, firstImage: first, images: images, group: g, y, t, toBlock: false)
        }
    }
}

public func conv2dInputGrad(_ dx: UnsafeMutablePointer<Float>,  // [N,C,H,W]
                            _ dy: UnsafePointer<Float>,         // [N,O,OH,OW]
                            _ w: UnsafePointer<Float>,          // [O,Cg,K,K]
                            _ s: ConvShape,
                            scratch: UnsafeMutablePointer<Float>) { // dcol [CgKK, B·OHW], dy block [Og, B·OHW]
    conv2dInputGrad(ChannelSplit(dx, channels: s.c, plane: s.inPlane), dy, w, s, scratch: scratch)
}

/// The input gradient with its channels spread over several tensors (merged convolutions).
public func conv2dInputGrad(_ dx: ChannelSplit, _ dy: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ s: ConvShape,
                            scratch: UnsafeMutablePointer<Float>) {
    if s.usesDirectKernels { return conv2dInputGradDirect(dx, dy, w, s, scratch: scratch) }
    conv2dInputGradBlocks(dx, dy, w, s, scratch: scratch, kernels: .fast)
}

func conv2dInputGradBlocks(_ dx: ChannelSplit, _ dy: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ s: ConvShape,
                           scratch: UnsafeMutablePointer<Float>, kernels: ColumnKernels) {
    let col = scratch, t = scratch + s.colRows * s.blockColumns, ld = s.blockColumns
    let dyRows = ChannelSplit(UnsafeMutablePointer(mutating: dy), channels: s.o, plane: s.outPlane)
    // The fast col2im writes every plane of dx whole (the reference accumulates), and
    // zeroes the col it has read: col is zeroed once here and every gemm accumulates into
    // it (beta 1), which spares OpenBLAS's own zeroing pass over the 1–10 MB col per block.
    let fast = kernels == .fast
    if fast { col.update(repeating: 0, count: s.colRows * ld) } else { dx.zero(images: s.n) }
    for first in stride(from: 0, to: s.n, by: s.imagesPerBlock) {
        let images = min(s.imagesPerBlock, s.n - first)
        for g in 0..<s.groups {
            copyBlockRows(s, firstImage: first, images: images, group: g, dyRows, t, toBlock: true)
            sgemm(col, ldc: ld, w + g * s.og * s.colRows, lda: s.colRows, transposeA: true,
                  t, ldb: ld, transposeB: false, m: s.colRows, n: images * s.outPlane, k: s.og, beta: fast ? 1 : 0)
            if fast {
                col2im(dx, firstImage: first, images: images, group: g, col, rowStride: ld, s, accumulate: false,
                       clearingColumns: true)
            } else {
                col2imReference(dx, firstImage: first, images: images, group: g, col, rowStride: ld, s)
            }
        }
    }
}

public func conv2dFilterGrad(_ dw: UnsafeMutablePointer<Float>,  // [O,Cg,K,K]
                             _ x: UnsafePointer<Float>,          // [N,C,H,W]
                             _ dy: UnsafePointer<Float>,         // [N,O,OH,OW]
                             _ s: ConvShape,
                             scratch: UnsafeMutablePointer<Float>) { // col [CgKK, B·OHW], dy block [Og, B·OHW]
    if s.usesDirectFilterGrad { return conv2dFilterGradDirect(dw, x, dy, s, scratch: scratch) }
    conv2dFilterGradBlocks(dw, x, dy, s, scratch: scratch, kernels: .fast)
}

func conv2dFilterGradBlocks(_ dw: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                            _ s: ConvShape, scratch: UnsafeMutablePointer<Float>, kernels: ColumnKernels) {
    let col = scratch, t = scratch + s.colRows * s.blockColumns, ld = s.blockColumns
    let dyRows = ChannelSplit(UnsafeMutablePointer(mutating: dy), channels: s.o, plane: s.outPlane)
    for first in stride(from: 0, to: s.n, by: s.imagesPerBlock) {
        let images = min(s.imagesPerBlock, s.n - first)
        for g in 0..<s.groups {
            im2col(col, rowStride: ld, x, firstImage: first, images: images, group: g, s, kernels)
            copyBlockRows(s, firstImage: first, images: images, group: g, dyRows, t, toBlock: true)
            sgemm(dw + g * s.og * s.colRows, ldc: s.colRows, t, lda: ld, transposeA: false,
                  col, ldb: ld, transposeB: true, m: s.og, n: s.colRows, k: images * s.outPlane,
                  beta: first == 0 ? 0 : 1)
        }
    }
}

/// im2col by the chosen kernels.
@inline(__always)
private func im2col(_ col: UnsafeMutablePointer<Float>, rowStride ld: Int, _ x: UnsafePointer<Float>,
                    firstImage: Int, images: Int, group g: Int, _ s: ConvShape, _ kernels: ColumnKernels) {
    switch kernels {
    case .fast: im2col(col, rowStride: ld, x, firstImage: firstImage, images: images, group: g, s)
    case .reference: im2colReference(col, rowStride: ld, x, firstImage: firstImage, images: images, group: g, s)
    }
}

// MARK: Naive kernels (the fast ones are tested against these)

/// Calls body(xi, wi, yi) for every multiply of the convolution.
@inline(__always)
func forEachTap(_ s: ConvShape, _ body: (Int, Int, Int) -> Void) {
    for b in 0..<s.n {
        for oc in 0..<s.o {
            let g = oc / s.og
            for ic in 0..<s.cg {
                for ky in 0..<s.k {
                    for kx in 0..<s.k {
                        let wi = ((oc * s.cg + ic) * s.k + ky) * s.k + kx
                        for oy in 0..<s.oh {
                            let iy = oy * s.stride - s.padding + ky
                            if iy < 0 || iy >= s.h { continue }
                            for ox in 0..<s.ow {
                                let ix = ox * s.stride - s.padding + kx
                                if ix < 0 || ix >= s.w { continue }
                                body(((b * s.c + g * s.cg + ic) * s.h + iy) * s.w + ix, wi,
                                     ((b * s.o + oc) * s.oh + oy) * s.ow + ox)
                            }
                        }
                    }
                }
            }
        }
    }
}

public func conv2dForwardNaive(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ s: ConvShape) {
    y.update(repeating: 0, count: s.n * s.o * s.outPlane)
    forEachTap(s) { xi, wi, yi in y[yi] += x[xi] * w[wi] }
}

public func conv2dInputGradNaive(_ dx: UnsafeMutablePointer<Float>, _ dy: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ s: ConvShape) {
    dx.update(repeating: 0, count: s.n * s.c * s.inPlane)
    forEachTap(s) { xi, wi, yi in dx[xi] += dy[yi] * w[wi] }
}

public func conv2dFilterGradNaive(_ dw: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, _ s: ConvShape) {
    dw.update(repeating: 0, count: s.o * s.colRows)
    forEachTap(s) { xi, wi, yi in dw[wi] += x[xi] * dy[yi] }
}
