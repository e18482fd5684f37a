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
