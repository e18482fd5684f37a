import COpenBLAS  // rat_prefetch

// im2col and its adjoint col2im, one (channel, image) plane per work item. The plane is
// first rearranged in L1 into stride "phases": with stride s and padding p, the zero-padded
// plane xpad[iy + p, ix + p] splits into s² phase planes
//   phase[a, b][r, c] = xpad[r·s + a, c·s + b],
// and tap (ky, kx) of the col is then a plain window of one of them:
//   col[ky·K + kx][oy, ox] = phase[ky % s, kx % s][oy + ky / s, ox + kx / s].
// So every tap row is OH copies of OW contiguous floats, without bounds checks or strides
// (stride 1 has one phase: the padded plane). The element-by-element kernels these
// replace (ConvolutionReference.swift) spent most of their time on per-row bookkeeping
// and stride-2 gathers of 8–16 floats.

/// Where the phase planes of one channel sit in a per-worker scratch buffer.
struct PhaseLayout {
    let stride, padding, k, h, w, oh, ow: Int
    /// Of one phase plane: enough for every tap window and every input element.
    let rows, columns: Int
    var planeFloats: Int { rows * columns }
    var floats: Int { stride * stride * planeFloats }

    init(_ s: ConvShape) {
        (stride, padding, k, h, w, oh, ow) = (s.stride, s.padding, s.k, s.h, s.w, s.oh, s.ow)
        rows = max(oh + (k - 1) / stride, (h + padding + stride - 1) / stride)
        columns = max(ow + (k - 1) / stride, (w + padding + stride - 1) / stride)
    }

    /// Offset of phase[a, b][r, c].
    @inline(__always) func offset(_ a: Int, _ b: Int, _ r: Int, _ c: Int) -> Int {
        (a * stride + b) * planeFloats + r * columns + c
    }

    /// Offset of the top-left element of tap kk's window.
    @inline(__always) func window(tap kk: Int) -> Int {
        let (ky, kx) = (kk / k, kk % k)
        return offset(ky % stride, kx % stride, ky / stride, kx / stride)
    }

    /// 1×1 without padding: col[oy, ox] = x[oy·s, ox·s] is gathered directly (phases
    /// would rearrange s² times the floats the one tap uses).
    var isPointwise: Bool { k == 1 && padding == 0 }
}

/// The order of the work items, (channel, image) planes. Channel-major for K > 1:
/// consecutive items fill consecutive columns of the same K·K col rows, and the next plane
/// (another image's) is prefetched. A 1×1 convolution has one col row per channel and runs
/// image-major: x (or dx) is then read (written) in address order, which is what mattered.
struct PlaneOrder {
    let channels, images: Int
    let imageMajor: Bool

    init(_ s: ConvShape, images: Int) { (channels, self.images, imageMajor) = (s.cg, images, s.k == 1) }

    func plane(_ item: Int) -> (ch: Int, i: Int) {
        imageMajor ? (item % channels, item / channels) : (item / images, item % images)
    }

    @inline(__always) func next(_ p: (ch: Int, i: Int)) -> (ch: Int, i: Int) {
        if imageMajor { return p.ch + 1 < channels ? (p.ch + 1, p.i) : (0, p.i + 1) }
        return p.i + 1 < images ? (p.ch, p.i + 1) : (p.ch + 1, 0)
    }

    /// Whether to prefetch the next item's plane (the hardware prefetcher does not cross
    /// from one image to the next).
    var prefetches: Bool { !imageMajor }
}

/// col[CgKK, ld] ← the patches of channel group g of a block of images: image first + i
/// fills columns i·OHW..<(i+1)·OHW. Bit-identical to `im2colReference`.
public func im2col(_ col: UnsafeMutablePointer<Float>, rowStride ld: Int, _ x: UnsafePointer<Float>,
                   firstImage: Int, images: Int, group g: Int, _ s: ConvShape) {
    let layout = PhaseLayout(s), order = PlaneOrder(s, images: images), taps = s.k * s.k, plane = s.outPlane
    let windows = (0..<taps).map { layout.window(tap: $0) }  // hoisted: the divisions cost more than a copy
    parallelRanges(images * s.cg, minimumPerWorker: max(1, 16_384 / (taps * plane))) { items, _ in
        withUnsafeTemporaryAllocation(of: Float.self, capacity: layout.isPointwise ? 1 : layout.floats) { buffer in
            let phases = buffer.baseAddress!  // [s², rows, columns]
            // Padding positions are the same for every plane: zero them once, and let each
            // plane overwrite only the positions that hold input.
            phases.update(repeating: 0, count: buffer.count)
            func input(_ p: (ch: Int, i: Int)) -> UnsafePointer<Float> {  // [H, W]
                x + ((firstImage + p.i) * s.c + g * s.cg + p.ch) * s.inPlane
            }
            var current = order.plane(items.lowerBound)
            for item in items {
                let src = input(current)
                let dst = col + current.ch * taps * ld + current.i * plane  // taps rows ld apart, [OH, OW] each
                current = order.next(current)
                // The next item's plane is C·H·W floats on: out of reach of the hardware
                // prefetcher, which stays within a page. Requested now, it arrives while
                // this one is copied (5–15 % faster at 16×16 and 32×32).
                if order.prefetches && item + 1 < items.upperBound {
                    prefetchPlane(input(current), s.inPlane, forWriting: false)
                }
                if layout.isPointwise {
                    gatherPointwise(dst, src, layout)
                    continue
                }
                splitIntoPhases(phases, src, layout)
                for kk in 0..<taps {
                    let window = phases + windows[kk], tap = dst + kk * ld
                    for oy in 0..<s.oh { copyFloats(tap + oy * s.ow, window + oy * layout.columns, s.ow) }
                }
            }
        }
    }
}

/// dx[first + i, channel group g] ← the adjoint of im2col applied to columns
/// i·OHW..<(i+1)·OHW of col[CgKK, ld], for every image i of the block; with `accumulate`,
/// dx += it instead. Every plane is written whole, so dx needs no zeroing first. Each
/// element sums its taps in order (0 + tap₀ + tap₁ + …) in L1 before it is stored: the
/// same sums as `col2imReference` into a zeroed dx, bit for bit.
public func col2im(_ dx: ChannelSplit, firstImage: Int, images: Int, group g: Int,
                   _ col: UnsafePointer<Float>, rowStride ld: Int, _ s: ConvShape, accumulate: Bool = false) {
    col2im(dx, firstImage: firstImage, images: images, group: g, UnsafeMutablePointer(mutating: col), rowStride: ld,
           s, accumulate: accumulate, clearingColumns: false)
}

/// col2im that also zeroes the col floats it reads (`clearingColumns`), while they are in
/// L1: the next gemm into col can then accumulate (beta 1) instead of OpenBLAS zeroing
/// the whole col in a pass of its own.
func col2im(_ dx: ChannelSplit, firstImage: Int, images: Int, group g: Int,
            _ col: UnsafeMutablePointer<Float>, rowStride ld: Int, _ s: ConvShape, accumulate: Bool,
            clearingColumns: Bool) {
    let layout = PhaseLayout(s), order = PlaneOrder(s, images: images), taps = s.k * s.k, plane = s.outPlane
    let windows = (0..<taps).map { layout.window(tap: $0) }
    parallelRanges(images * s.cg, minimumPerWorker: max(1, 16_384 / (taps * plane))) { items, _ in
        withUnsafeTemporaryAllocation(of: Float.self, capacity: layout.isPointwise ? 1 : layout.floats) { buffer in
            let phases = buffer.baseAddress!  // [s², rows, columns]
            func output(_ p: (ch: Int, i: Int)) -> UnsafeMutablePointer<Float> {  // [H, W]
                dx.channel(g * s.cg + p.ch, ofImage: firstImage + p.i)
            }
            var current = order.plane(items.lowerBound)
            for item in items {
                let dst = output(current)
                let src = col + current.ch * taps * ld + current.i * plane  // taps rows ld apart, [OH, OW] each
                current = order.next(current)
                // As in im2col: the next plane of dx, to be written (4–16 % faster).
                if order.prefetches && item + 1 < items.upperBound {
                    prefetchPlane(output(current), s.inPlane, forWriting: true)
                }
                if layout.isPointwise {
                    scatterPointwise(dst, src, layout, accumulate: accumulate)
                } else {
                    phases.update(repeating: 0, count: buffer.count)
                    for kk in 0..<taps {
                        let window = phases + windows[kk], tap = src + kk * ld
                        for oy in 0..<s.oh { addFloats(window + oy * layout.columns, tap + oy * s.ow, s.ow) }
                    }
                    mergePhases(dst, phases, layout, accumulate: accumulate)
                }
                if clearingColumns { for kk in 0..<taps { zeroFloats(src + kk * ld, plane) } }
            }
        }
    }
}

/// phases ← the input elements of plane src[H, W] (padding positions are left as they are).
/// Strides 1 and 2 have loops of their own (constant divisions, SIMD rows).
@inline(__always)
private func splitIntoPhases(_ phases: UnsafeMutablePointer<Float>, _ src: UnsafePointer<Float>, _ l: PhaseLayout) {
    let p = l.padding
    switch l.stride {
    case 1:
        for iy in 0..<l.h { copyFloats(phases + l.offset(0, 0, iy + p, p), src + iy * l.w, l.w) }
    case 2:
        for iy in 0..<l.h {
            let row = src + iy * l.w
            // Even input columns 2j land in phase b = p % 2 at column j + p / 2, odd ones
            // in the other phase at j + (p + 1) / 2.
            let (a, r) = ((iy + p) % 2, (iy + p) / 2)
            let even = phases + l.offset(a, p % 2, r, p / 2), odd = phases + l.offset(a, (p + 1) % 2, r, (p + 1) / 2)
            var j = 0
            while 2 * j + 16 <= l.w {
                let pair = load16(row + 2 * j)
                store8(pair.evenHalf, even + j)
                store8(pair.oddHalf, odd + j)
                j += 8
            }
            while 2 * j + 1 < l.w { (even[j], odd[j]) = (row[2 * j], row[2 * j + 1]); j += 1 }
            if 2 * j < l.w { even[j] = row[2 * j] }
        }
    default:
        for iy in 0..<l.h {
            let (a, r) = ((iy + p) % l.stride, (iy + p) / l.stride)
            for ix in 0..<l.w {
                phases[l.offset(a, (ix + p) % l.stride, r, (ix + p) / l.stride)] = src[iy * l.w + ix]
            }
        }
    }
}

/// dst[H, W] ← (or += with `accumulate`) the input positions of the phase planes.
@inline(__always)
private func mergePhases(_ dst: UnsafeMutablePointer<Float>, _ phases: UnsafePointer<Float>, _ l: PhaseLayout,
                         accumulate: Bool) {
    let p = l.padding
    switch l.stride {
    case 1:
        for iy in 0..<l.h {
            let (row, from) = (dst + iy * l.w, phases + l.offset(0, 0, iy + p, p))
            if accumulate { addFloats(row, from, l.w) } else { copyFloats(row, from, l.w) }
        }
    case 2:
        for iy in 0..<l.h {
            let row = dst + iy * l.w
            let (a, r) = ((iy + p) % 2, (iy + p) / 2)
            let even = phases + l.offset(a, p % 2, r, p / 2), odd = phases + l.offset(a, (p + 1) % 2, r, (p + 1) / 2)
            var j = 0
            while 2 * j + 16 <= l.w {
                let pair = interleave(load8(even + j), load8(odd + j))
                store16(accumulate ? load16(row + 2 * j) + pair : pair, row + 2 * j)
                j += 8
            }
            while 2 * j < l.w {
                let ix = 2 * j
                row[ix] = accumulate ? row[ix] + even[j] : even[j]
                if ix + 1 < l.w { row[ix + 1] = accumulate ? row[ix + 1] + odd[j] : odd[j] }
                j += 1
            }
        }
    default:
        for iy in 0..<l.h {
            let (a, r) = ((iy + p) % l.stride, (iy + p) / l.stride)
            for ix in 0..<l.w {
                let v = phases[l.offset(a, (ix + p) % l.stride, r, (ix + p) / l.stride)]
                dst[iy * l.w + ix] = accumulate ? dst[iy * l.w + ix] + v : v
            }
        }
    }
}

/// col[OH, OW] ← x[oy·s, ox·s] of plane src[H, W] (a 1×1 convolution without padding).
@inline(__always)
private func gatherPointwise(_ col: UnsafeMutablePointer<Float>, _ src: UnsafePointer<Float>, _ l: PhaseLayout) {
    if l.stride == 1 { return copyFloats(col, src, l.oh * l.ow) }
    for oy in 0..<l.oh {
        let (out, row) = (col + oy * l.ow, src + oy * l.stride * l.w)
        var ox = 0
        if l.stride == 2 {
            while 2 * ox + 16 <= l.w && ox + 8 <= l.ow { store8(load16(row + 2 * ox).evenHalf, out + ox); ox += 8 }
        }
        while ox < l.ow { out[ox] = row[ox * l.stride]; ox += 1 }
    }
}

/// dst[H, W] ← (or += with `accumulate`) the adjoint of `gatherPointwise`: col[oy, ox] at
/// (oy·s, ox·s), zeros elsewhere.
@inline(__always)
private func scatterPointwise(_ dst: UnsafeMutablePointer<Float>, _ col: UnsafePointer<Float>, _ l: PhaseLayout,
                              accumulate: Bool) {
    if l.stride == 1 {
        return accumulate ? addFloats(dst, col, l.oh * l.ow) : copyFloats(dst, col, l.oh * l.ow)
    }
    for iy in 0..<l.h {
        let row = dst + iy * l.w
        guard iy % l.stride == 0 && iy / l.stride < l.oh else {
            if !accumulate { row.update(repeating: 0, count: l.w) }
            continue
        }
        let from = col + iy / l.stride * l.ow
        var ix = 0
        if l.stride == 2 {
            while ix + 16 <= l.w && ix / 2 + 8 <= l.ow {
                let pair = interleave(load8(from + ix / 2), SIMD8())
                store16(accumulate ? load16(row + ix) + pair : pair, row + ix)
                ix += 16
            }
        }
        while ix < l.w {
            let v: Float = ix % l.stride == 0 && ix / l.stride < l.ow ? from[ix / l.stride] : 0
            row[ix] = accumulate ? row[ix] + v : v
            ix += 1
        }
    }
}

// MARK: Small SIMD helpers (unaligned; the kernels module targets AVX2)

/// Asks for the cache lines of plane[0..<count] (the next item's).
@inline(__always) private func prefetchPlane(_ plane: UnsafePointer<Float>, _ count: Int, forWriting: Bool) {
    for offset in stride(from: 0, to: count, by: 16) {
        if forWriting { rat_prefetch_for_write(UnsafeMutablePointer(mutating: plane + offset)) } else { rat_prefetch(plane + offset) }
    }
}


/// (e₀, o₀, e₁, o₁, …): the inverse of evenHalf / oddHalf.
@inline(__always) private func interleave(_ e: SIMD8<Float>, _ o: SIMD8<Float>) -> SIMD16<Float> {
    SIMD16(e[0], o[0], e[1], o[1], e[2], o[2], e[3], o[3], e[4], o[4], e[5], o[5], e[6], o[6], e[7], o[7])
}

@inline(__always) private func load4(_ p: UnsafePointer<Float>) -> SIMD4<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD4<Float>.self)
}
@inline(__always) private func store4(_ v: SIMD4<Float>, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD4<Float>.self)
}

/// dst[0..<n] ← src[0..<n], in 8- and 4-float chunks (rows here are 4–32 floats: a
/// memmove call per row cost more than the copy).
@inline(__always) private func copyFloats(_ dst: UnsafeMutablePointer<Float>, _ src: UnsafePointer<Float>, _ n: Int) {
    var j = 0
    while j + 8 <= n { store8(load8(src + j), dst + j); j += 8 }
    if j + 4 <= n { store4(load4(src + j), dst + j); j += 4 }
    while j < n { dst[j] = src[j]; j += 1 }
}

/// dst[0..<n] ← 0.
@inline(__always) private func zeroFloats(_ dst: UnsafeMutablePointer<Float>, _ n: Int) {
    var j = 0
    while j + 8 <= n { store8(SIMD8(), dst + j); j += 8 }
    while j < n { dst[j] = 0; j += 1 }
}

/// dst[0..<n] += src[0..<n].
@inline(__always) private func addFloats(_ dst: UnsafeMutablePointer<Float>, _ src: UnsafePointer<Float>, _ n: Int) {
    var j = 0
    while j + 8 <= n { store8(load8(dst + j) + load8(src + j), dst + j); j += 8 }
    if j + 4 <= n { store4(load4(dst + j) + load4(src + j), dst + j); j += 4 }
    while j < n { dst[j] += src[j]; j += 1 }
}
