// The im2col / col2im kernels as they were before the per-plane versions in Im2col.swift:
// one (image, col row) or (image, channel) pair per work item, element by element. They
// stay callable as the oracles the fast kernels are tested against (im2col must match
// bit for bit) and as the "old" side of `convolutionKernelTimings`.

/// col[CgKK, ld] ← the patches of channel group g of a block of images: image first + i
/// fills columns i·OHW..<(i+1)·OHW.
public func im2colReference(_ col: UnsafeMutablePointer<Float>, rowStride ld: Int, _ x: UnsafePointer<Float>,
                            firstImage: Int, images: Int, group g: Int, _ s: ConvShape) {
    let (k, oh, ow, plane, rows) = (s.k, s.oh, s.ow, s.outPlane, s.colRows)
    parallelRanges(images * rows, minimumPerWorker: max(1, 16_384 / plane)) { items, _ in
        for item in items {
            let (i, row) = (item / rows, item % rows)
            let (ch, ky, kx) = (row / (k * k), row / k % k, row % k)
            let src = x + ((firstImage + i) * s.c + g * s.cg + ch) * s.inPlane
            let dst = col + row * ld + i * plane
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

/// dx[first + i, channel group g] += the adjoint of im2col applied to columns
/// i·OHW..<(i+1)·OHW of col[CgKK, ld], for every image i of the block (dx must be zeroed
/// first for a plain col2im). Work items are (image, channel) pairs.
public func col2imReference(_ dx: ChannelSplit, firstImage: Int, images: Int, group g: Int,
                            _ col: UnsafePointer<Float>, rowStride ld: Int, _ s: ConvShape) {
    let (k, oh, ow, plane) = (s.k, s.oh, s.ow, s.outPlane)
    parallelRanges(images * s.cg, minimumPerWorker: max(1, 16_384 / (plane * k * k))) { items, _ in
        for item in items {
            let (i, ch) = (item / s.cg, item % s.cg)
            col2imPlaneReference(dx.channel(g * s.cg + ch, ofImage: firstImage + i),
                                 col + ch * k * k * ld + i * plane, rowStride: ld, s)
        }
    }
}

/// dst[H, W] += the adjoint of im2col of one channel: src is its first col row (tap 0),
/// the K·K tap rows follow ld apart. Taps are added in order, so each dx element sums
/// 0 + tap₀ + tap₁ + … (the fast kernel keeps that order).
func col2imPlaneReference(_ dst: UnsafeMutablePointer<Float>, _ src: UnsafePointer<Float>, rowStride ld: Int,
                          _ s: ConvShape) {
    let (k, oh, ow) = (s.k, s.oh, s.ow)
    for kk in 0..<(k * k) {
        let (ky, kx) = (kk / k, kk % k)
        let tap = src + kk * ld
        let first = max(0, (s.padding - kx + s.stride - 1) / s.stride)
        let last = min(ow, (s.w + s.padding - kx + s.stride - 1) / s.stride)
        if first >= last { continue }
        for oy in 0..<oh {
            let iy = oy * s.stride - s.padding + ky
            if iy < 0 || iy >= s.h { continue }
            let rowDst = dst + iy * s.w - s.padding + kx
            let rowSrc = tap + oy * ow
            for ox in first..<last { rowDst[ox * s.stride] += rowSrc[ox] }
        }
    }
}

/// The forward and both gradients of one convolution (groups 1), every product accumulated
/// in Double: the oracle oneDNN's kernels are measured against (`OneDNNParity`, the error
/// column of `rat bench --onednn`). x [N,C,H,W], w [O,C,K,K], dy [N,O,OH,OW].
public func convolutionDoubleReference(_ s: ConvShape, x: [Float], w: [Float], dy: [Float])
    -> (y: [Double], dx: [Double], dw: [Double]) {
    precondition(s.groups == 1)
    var (y, dx, dw) = ([Double](repeating: 0, count: dy.count), [Double](repeating: 0, count: x.count),
                       [Double](repeating: 0, count: w.count))
    for b in 0..<s.n {
        for o in 0..<s.o {
            for c in 0..<s.c {
                for ky in 0..<s.k {
                    for kx in 0..<s.k {
                        let wi = ((o * s.c + c) * s.k + ky) * s.k + kx
                        for oy in 0..<s.oh {
                            let iy = oy * s.stride - s.padding + ky
                            guard iy >= 0 && iy < s.h else { continue }
                            for ox in 0..<s.ow {
                                let ix = ox * s.stride - s.padding + kx
                                guard ix >= 0 && ix < s.w else { continue }
                                let xi = ((b * s.c + c) * s.h + iy) * s.w + ix
                                let yi = ((b * s.o + o) * s.oh + oy) * s.ow + ox
                                y[yi] += Double(x[xi]) * Double(w[wi])
                                dx[xi] += Double(dy[yi]) * Double(w[wi])
                                dw[wi] += Double(x[xi]) * Double(dy[yi])
                            }
                        }
                    }
                }
            }
        }
    }
    return (y, dx, dw)
}

/// ‖a − b‖ / ‖b‖ over all elements (infinite when a holds a NaN).
public func relativeL2Error(_ a: [Float], _ b: [Double]) -> Double {
    var (difference, norm) = (0.0, 0.0)
    for (x, y) in zip(a, b) {
        difference += (Double(x) - y) * (Double(x) - y)
        norm += y * y
    }
    return difference.isNaN ? .infinity : (difference / max(norm, 1e-300)).squareRoot()
}
