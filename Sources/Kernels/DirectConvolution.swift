// Direct kernels for convolutions with few input channels (the first layer, C = 3): there
// im2col + gemm is memory-bound (K = C·K·K = 27: the col matrix is written and read for
// 27 multiply-adds per output), and col2im (the attack's ∂/∂x) scatters into three planes
// per image. Directly, one image is zero-padded into L1/L2-sized scratch and every output
// row is accumulated in registers: 4 output channels × 16 columns per tap.
//   forward:         y[n,o,oy,ox]  = Σ_c,ky,kx w[o,c,ky,kx] · xpad[n,c,oy+ky,ox+kx]
//   input gradient:  dx[n,c,iy,ix] = Σ_o,ky,kx w[o,c,K−1−ky,K−1−kx] · dypad[n,o,iy+ky,ix+kx]
// i.e. the input gradient is the same stride-1 convolution of dy (padded by q = K−1−p) with
// the filter transposed (O ↔ C) and flipped.

extension ConvShape {
    /// Whether the direct kernels run this convolution (forward and input gradient): stride 1,
    /// no groups, a thin gemm (C·K·K ≤ 32), rows a multiple of 16 columns, and everything
    /// fits in the scratch the im2col path reserves (so the planner's rule stays one rule).
    public var usesDirectKernels: Bool {
        groups == 1 && stride == 1 && padding < k && colRows <= 32 && ow % 16 == 0 && w % 16 == 0
            && directFilterFloats + workerCount * directImageFloats <= scratchElements
    }

    /// The filter of either direction, output channels rounded up to a block of 4.
    var directFilterFloats: Int { ((max(o, c) + 3) / 4 * 4 * c * k * k + 15) / 16 * 16 }

    /// One padded image per worker: the forward's x[C, H+2p, W+2p] or the input gradient's
    /// dy[O, OH+2q, OW+2q].
    var directImageFloats: Int {
        let q = k - 1 - padding
        return max(c * (h + 2 * padding) * (w + 2 * padding), o * (oh + 2 * q) * (ow + 2 * q))
    }
}

/// A stride-1 convolution of one padded image: out[o, r, 0..<columns] for o < outChannels.
/// `filter` is [⌈outChannels/4⌉·4, inChannels, K, K] (rows past outChannels are zero).
private struct DirectProblem {
    var inChannels, outChannels, k, paddedRows, paddedColumns, rows, columns: Int
}


private func convolveImage(_ out: ChannelSplit, image n: Int, _ input: UnsafePointer<Float>,
                           _ filter: UnsafePointer<Float>, _ p: DirectProblem) {
    let taps = p.inChannels * p.k * p.k
    for o0 in stride(from: 0, to: p.outChannels, by: 4) {
        let f = filter + o0 * taps
        for r in 0..<p.rows {
            for c0 in stride(from: 0, to: p.columns, by: 16) {
                var a0 = SIMD8<Float>(), b0 = SIMD8<Float>(), a1 = SIMD8<Float>(), b1 = SIMD8<Float>()
                var a2 = SIMD8<Float>(), b2 = SIMD8<Float>(), a3 = SIMD8<Float>(), b3 = SIMD8<Float>()
                var tap = 0
                for ch in 0..<p.inChannels {
                    for ky in 0..<p.k {
                        let row = input + (ch * p.paddedRows + r + ky) * p.paddedColumns + c0
                        for kx in 0..<p.k {
                            let x0 = load8(row + kx), x1 = load8(row + kx + 8)
                            let w0 = SIMD8(repeating: f[tap]), w1 = SIMD8(repeating: f[taps + tap])
                            let w2 = SIMD8(repeating: f[2 * taps + tap]), w3 = SIMD8(repeating: f[3 * taps + tap])
                            a0.addProduct(w0, x0); b0.addProduct(w0, x1)
                            a1.addProduct(w1, x0); b1.addProduct(w1, x1)
                            a2.addProduct(w2, x0); b2.addProduct(w2, x1)
                            a3.addProduct(w3, x0); b3.addProduct(w3, x1)
                            tap += 1
                        }
                    }
                }
                let live = p.outChannels - o0  // the last block may have fewer than 4 channels
                func store(_ j: Int, _ a: SIMD8<Float>, _ b: SIMD8<Float>) {
                    guard j < live else { return }
                    let dst = out.channel(o0 + j, ofImage: n) + r * p.columns + c0
                    store8(a, dst)
                    store8(b, dst + 8)
                }
                store(0, a0, b0); store(1, a1, b1); store(2, a2, b2); store(3, a3, b3)
            }
        }
    }
}

/// padded[channels, rows + 2·margin, columns + 2·margin] ← plane(ch)[rows, columns], zero border.
private func pad(_ padded: UnsafeMutablePointer<Float>, channels: Int, rows: Int, columns: Int, margin: Int,
                 _ plane: (Int) -> UnsafePointer<Float>) {
    let (pr, pc) = (rows + 2 * margin, columns + 2 * margin)
    padded.update(repeating: 0, count: channels * pr * pc)
    for ch in 0..<channels {
        let src = plane(ch)
        for r in 0..<rows { (padded + (ch * pr + r + margin) * pc + margin).update(from: src + r * columns, count: columns) }
    }
}

func conv2dForwardDirect(_ y: ChannelSplit, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ s: ConvShape,
                         scratch: UnsafeMutablePointer<Float>) {
    let filter = scratch, blocks = (s.o + 3) / 4 * 4
    filter.update(from: w, count: s.o * s.colRows)
    (filter + s.o * s.colRows).update(repeating: 0, count: (blocks - s.o) * s.colRows)
    let p = DirectProblem(inChannels: s.c, outChannels: s.o, k: s.k, paddedRows: s.h + 2 * s.padding,
                          paddedColumns: s.w + 2 * s.padding, rows: s.oh, columns: s.ow)
    parallelRanges(s.n, minimumPerWorker: 1) { images, worker in
        let padded = scratch + s.directFilterFloats + worker * s.directImageFloats
        for n in images {
            pad(padded, channels: s.c, rows: s.h, columns: s.w, margin: s.padding) { x + (n * s.c + $0) * s.inPlane }
            convolveImage(y, image: n, padded, filter, p)
        }
    }
}

func conv2dInputGradDirect(_ dx: ChannelSplit, _ dy: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ s: ConvShape,
                           scratch: UnsafeMutablePointer<Float>) {
    // filter[c, o, ky, kx] = w[o, c, K−1−ky, K−1−kx], rows past C zero.
    let filter = scratch, (k, kk) = (s.k, s.k * s.k), blocks = (s.c + 3) / 4 * 4
    filter.update(repeating: 0, count: blocks * s.o * kk)
    for c in 0..<s.c {
        for o in 0..<s.o {
            for t in 0..<kk { filter[(c * s.o + o) * kk + t] = w[(o * s.c + c) * kk + (kk - 1 - t)] }
        }
    }
    let q = k - 1 - s.padding
    let p = DirectProblem(inChannels: s.o, outChannels: s.c, k: k, paddedRows: s.oh + 2 * q,
                          paddedColumns: s.ow + 2 * q, rows: s.h, columns: s.w)
    parallelRanges(s.n, minimumPerWorker: 1) { images, worker in
        let padded = scratch + s.directFilterFloats + worker * s.directImageFloats
        for n in images {
            pad(padded, channels: s.o, rows: s.oh, columns: s.ow, margin: q) { dy + (n * s.o + $0) * s.outPlane }
            convolveImage(dx, image: n, padded, filter, p)
        }
    }
}

// The filter gradient directly: dw[o,c,ky,kx] = Σ_n,oy,ox dy[n,o,oy,ox] · xpad[n,c,oy+ky,ox+kx].
// As im2col + gemm it is a gemm of M = O, N = C·K·K ≤ 32 and K = N·OH·OW, which runs at a
// sixth of the peak. Here each worker takes whole images, pads one into scratch and, for
// two output channels and one (c, ky) at a time, keeps 2·K sums of 8 lanes in registers
// over every output row; its partial dw is summed with the other worker's at the end.

extension ConvShape {
    /// Per worker: a padded image, then a partial dw [O, C·K·K].
    var directFilterGradFloats: Int { workerCount * (directImageFloats + (o * colRows + 15) / 16 * 16) }
    public var usesDirectFilterGrad: Bool { usesDirectKernels && k <= 5 && directFilterGradFloats <= scratchElements }
}

func conv2dFilterGradDirect(_ dw: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                            _ s: ConvShape, scratch: UnsafeMutablePointer<Float>) {
    let (k, rows) = (s.k, s.colRows)
    let perWorker = s.directImageFloats + (s.o * rows + 15) / 16 * 16
    let (paddedRows, paddedColumns) = (s.h + 2 * s.padding, s.w + 2 * s.padding)
    // A worker may get no images (parallelRanges hands out aligned halves), so both partials
    // start at zero here rather than inside the loop.
    for worker in 0..<workerCount { (scratch + worker * perWorker + s.directImageFloats).update(repeating: 0, count: s.o * rows) }
    parallelRanges(s.n, minimumPerWorker: 1) { images, worker in
        let padded = scratch + worker * perWorker, partial = padded + s.directImageFloats   // partial [O, C·K·K]
        for n in images {
            pad(padded, channels: s.c, rows: s.h, columns: s.w, margin: s.padding) { x + (n * s.c + $0) * s.inPlane }
            for o0 in stride(from: 0, to: s.o, by: 2) {
                let second = o0 + 1 < s.o ? 1 : 0   // an odd last channel pairs with itself, its sums unused
                let dy0 = dy + (n * s.o + o0) * s.outPlane, dy1 = dy + (n * s.o + o0 + second) * s.outPlane
                for c in 0..<s.c {
                    for ky in 0..<k {
                        // sums[j][kx]: output channel o0 + j, tap (c, ky, kx); at most 5 taps.
                        var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>(), a4 = SIMD8<Float>()
                        var b0 = SIMD8<Float>(), b1 = SIMD8<Float>(), b2 = SIMD8<Float>(), b3 = SIMD8<Float>(), b4 = SIMD8<Float>()
                        for oy in 0..<s.oh {
                            let xRow = padded + (c * paddedRows + oy + ky) * paddedColumns
                            let (g0, g1) = (dy0 + oy * s.ow, dy1 + oy * s.ow)
                            for c0 in stride(from: 0, to: s.ow, by: 8) {
                                let d0 = load8(g0 + c0), d1 = load8(g1 + c0)
                                var v = load8(xRow + c0)
                                a0.addProduct(d0, v); b0.addProduct(d1, v)
                                if k > 1 { v = load8(xRow + c0 + 1); a1.addProduct(d0, v); b1.addProduct(d1, v) }
                                if k > 2 { v = load8(xRow + c0 + 2); a2.addProduct(d0, v); b2.addProduct(d1, v) }
                                if k > 3 { v = load8(xRow + c0 + 3); a3.addProduct(d0, v); b3.addProduct(d1, v) }
                                if k > 4 { v = load8(xRow + c0 + 4); a4.addProduct(d0, v); b4.addProduct(d1, v) }
                            }
                        }
                        let tap = (c * k + ky) * k
                        func add(_ kx: Int, _ a: SIMD8<Float>, _ b: SIMD8<Float>) {
                            guard kx < k else { return }
                            partial[o0 * rows + tap + kx] += a.sum()
                            if second == 1 { partial[(o0 + 1) * rows + tap + kx] += b.sum() }
                        }
                        add(0, a0, b0); add(1, a1, b1); add(2, a2, b2); add(3, a3, b3); add(4, a4, b4)
                    }
                }
            }
        }
    }
    // dw ← the sum of the workers' partials.
    dw.update(from: scratch + s.directImageFloats, count: s.o * rows)
    for worker in 1..<workerCount {
        let partial = scratch + worker * perWorker + s.directImageFloats
        for i in 0..<(s.o * rows) { dw[i] += partial[i] }
    }
}
