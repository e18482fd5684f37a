// Convolution as im2col + sgemm, with its two transposes (the vjp in x and in w).
// Per image and group: col[CgKK, OH·OW] holds the input patches, so that
//   y[n,g]  = w[g] · col                  (forward)
//   dcol    = w[g]ᵀ · dy[n,g], dx += col2im(dcol)   (input gradient)
//   dw[g]  += dy[n,g] · colᵀ               (filter gradient, accumulated over images)
// A 1×1, stride-1, unpadded convolution needs no col: the input already is one.

/// Sizes of one convolution: x[N,C,H,W] ⊛ w[O,C/G,K,K] → y[N,O,OH,OW].
public struct ConvShape: Hashable, Sendable {
    public var n, c, h, w, o, k, stride, padding, groups, oh, ow: Int

    public init(n: Int, c: Int, h: Int, w: Int, o: Int, k: Int, stride: Int, padding: Int, groups: Int) {
        (self.n, self.c, self.h, self.w, self.o, self.k) = (n, c, h, w, o, k)
        (self.stride, self.padding, self.groups) = (stride, padding, groups)
        oh = (h + 2 * padding - k) / stride + 1
        ow = (w + 2 * padding - k) / stride + 1
    }

    var cg: Int { c / groups }
    var og: Int { o / groups }
    var colRows: Int { cg * k * k }
    var outPlane: Int { oh * ow }
    var inPlane: Int { h * w }
    /// True when x itself is the col matrix.
    var isPointwise: Bool { k == 1 && stride == 1 && padding == 0 }
    /// Floats of scratch one call needs (one image's col for one group).
    public var scratchElements: Int { isPointwise ? 0 : colRows * outPlane }
    /// Multiply-adds × 2 of the forward (and of each transpose).
    public var flops: Int { 2 * n * o * outPlane * colRows }
}

/// col[CgKK, OH·OW] ← the patches of one image's channel group xg[Cg,H,W].
func im2col(_ col: UnsafeMutablePointer<Float>, _ xg: UnsafePointer<Float>, _ s: ConvShape) {
    let (k, oh, ow, plane) = (s.k, s.oh, s.ow, s.outPlane)
    parallelRanges(s.colRows, minimumPerWorker: max(1, 16_384 / plane)) { rows, _ in
        for row in rows {
            let (ch, ky, kx) = (row / (k * k), row / k % k, row % k)
            let src = xg + ch * s.inPlane
            let dst = col + row * plane
            // Output columns ox whose input column ix = ox·stride − padding + kx is inside.
            let first = max(0, (s.padding - kx + s.stride - 1) / s.stride)
            let last = min(ow, (s.w + s.padding - kx + s.stride - 1) / s.stride)
            for oy in 0..<oh {
                let iy = oy * s.stride - s.padding + ky
                let out = dst + oy * ow
                if iy < 0 || iy >= s.h || first >= last {
                    out.update(repeating: 0, count: ow)
                    continue
                }
                let rowSrc = src + iy * s.w
                if first > 0 { out.update(repeating: 0, count: first) }
                if last < ow { (out + last).update(repeating: 0, count: ow - last) }
                if s.stride == 1 {
                    (out + first).update(from: rowSrc + (first - s.padding + kx), count: last - first)
                } else {
                    for ox in first..<last { out[ox] = rowSrc[ox * s.stride - s.padding + kx] }
                }
            }
        }
    }
}

/// dxg[Cg,H,W] += the adjoint of im2col applied to col[CgKK, OH·OW].
func col2im(_ dxg: UnsafeMutablePointer<Float>, _ col: UnsafePointer<Float>, _ s: ConvShape) {
    let (k, oh, ow, plane) = (s.k, s.oh, s.ow, s.outPlane)
    // Rows of one channel write to that channel only: split by channel, not by row.
    parallelRanges(s.cg, minimumPerWorker: max(1, 16_384 / (plane * k * k))) { channels, _ in
        for ch in channels {
            let dst = dxg + ch * s.inPlane
            for kk in 0..<(k * k) {
                let (ky, kx) = (kk / k, kk % k)
                let src = col + (ch * k * k + kk) * plane
                let first = max(0, (s.padding - kx + s.stride - 1) / s.stride)
                let last = min(ow, (s.w + s.padding - kx + s.stride - 1) / s.stride)
                if first >= last { continue }
                for oy in 0..<oh {
                    let iy = oy * s.stride - s.padding + ky
                    if iy < 0 || iy >= s.h { continue }
                    let rowDst = dst + iy * s.w - s.padding + kx
                    let rowSrc = src + oy * ow
                    for ox in first..<last { rowDst[ox * s.stride] += rowSrc[ox] }
                }
            }
        }
    }
}

public func conv2dForward(_ y: UnsafeMutablePointer<Float>,   // [N,O,OH,OW]
                          _ x: UnsafePointer<Float>,          // [N,C,H,W]
                          _ w: UnsafePointer<Float>,          // [O,Cg,K,K]
                          _ s: ConvShape,
                          scratch col: UnsafeMutablePointer<Float>) { // [CgKK, OH·OW]
    for image in 0..<s.n {
        for g in 0..<s.groups {
            let xg = x + (image * s.c + g * s.cg) * s.inPlane
            if !s.isPointwise { im2col(col, xg, s) }
            sgemm(y + (image * s.o + g * s.og) * s.outPlane, ldc: s.outPlane,
                  w + g * s.og * s.colRows, lda: s.colRows, transposeA: false,
                  s.isPointwise ? xg : UnsafePointer(col), ldb: s.outPlane, transposeB: false,
                  m: s.og, n: s.outPlane, k: s.colRows)
        }
    }
}

public func conv2dInputGrad(_ dx: UnsafeMutablePointer<Float>,  // [N,C,H,W]
                            _ dy: UnsafePointer<Float>,         // [N,O,OH,OW]
                            _ w: UnsafePointer<Float>,          // [O,Cg,K,K]
                            _ s: ConvShape,
                            scratch col: UnsafeMutablePointer<Float>) { // [CgKK, OH·OW]
    if !s.isPointwise { dx.update(repeating: 0, count: s.n * s.c * s.inPlane) }
    for image in 0..<s.n {
        for g in 0..<s.groups {
            let dxg = dx + (image * s.c + g * s.cg) * s.inPlane
            sgemm(s.isPointwise ? dxg : col, ldc: s.outPlane,
                  w + g * s.og * s.colRows, lda: s.colRows, transposeA: true,
                  dy + (image * s.o + g * s.og) * s.outPlane, ldb: s.outPlane, transposeB: false,
                  m: s.colRows, n: s.outPlane, k: s.og)
            if !s.isPointwise { col2im(dxg, col, s) }
        }
    }
}

public func conv2dFilterGrad(_ dw: UnsafeMutablePointer<Float>,  // [O,Cg,K,K]
                             _ x: UnsafePointer<Float>,          // [N,C,H,W]
                             _ dy: UnsafePointer<Float>,         // [N,O,OH,OW]
                             _ s: ConvShape,
                             scratch col: UnsafeMutablePointer<Float>) { // [CgKK, OH·OW]
    for image in 0..<s.n {
        for g in 0..<s.groups {
            let xg = x + (image * s.c + g * s.cg) * s.inPlane
            if !s.isPointwise { im2col(col, xg, s) }
            sgemm(dw + g * s.og * s.colRows, ldc: s.colRows,
                  dy + (image * s.o + g * s.og) * s.outPlane, lda: s.outPlane, transposeA: false,
                  s.isPointwise ? xg : UnsafePointer(col), ldb: s.outPlane, transposeB: true,
                  m: s.og, n: s.colRows, k: s.outPlane, beta: image == 0 ? 0 : 1)
        }
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
