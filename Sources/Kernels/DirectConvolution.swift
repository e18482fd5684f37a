import CDirectKernels
import Foundation

// Direct kernels for convolutions with few input channels (the first layer, C = 3): there
// im2col + gemm is memory-bound (K = C·K·K = 27: the col matrix is written and read for
// 27 multiply-adds per output), and col2im (the attack's ∂/∂x) scatters into three planes
// per image. Directly, one image is zero-padded into L1/L2-sized scratch and every output
// row is accumulated in registers: 4 output channels × 16 columns per tap. The inner loops
// are C (Sources/System/CDirectKernels), built three times: for AVX-512 and for AVX2 + FMA,
// chosen at run time when the CPU has them (`kernelInstructions`), and for the baseline.
//   forward:         y[n,o,oy,ox]  = Σ_c,ky,kx w[o,c,ky,kx] · xpad[n,c,oy+ky,ox+kx]
//   input gradient:  dx[n,c,iy,ix] = Σ_o,ky,kx w[o,c,K−1−ky,K−1−kx] · dypad[n,o,iy+ky,ix+kx]
// i.e. the input gradient is the same stride-1 convolution of dy (padded by q = K−1−p) with
// the filter transposed (O ↔ C) and flipped.

extension ConvShape {
    /// Whether the direct kernels run this convolution (forward and input gradient): stride 1,
    /// no groups, a thin gemm (C·K·K ≤ 32), rows a multiple of 16 columns, and the filter
    /// and a padded image for each of `directWorkers` fit in the scratch the im2col path
    /// reserves (so the planner's rule stays one rule).
    public var usesDirectKernels: Bool {
        groups == 1 && stride == 1 && padding < k && colRows <= 32 && ow % 16 == 0 && w % 16 == 0
            && directWorkers >= min(workerCount, 2)
    }

    /// Workers of the direct forward and input gradient: one per core, but no more than the
    /// im2col scratch holds padded images for (so a many-core machine runs them on fewer
    /// workers rather than falling back to im2col). They run only with min(cores, 2) or more,
    /// the rule of the two-worker build this replaces.
    var directWorkers: Int { min(workerCount, max(0, scratchElements - directFilterFloats) / directImageFloats) }

    /// The filter of either direction, output channels rounded up to a block of 4.
    var directFilterFloats: Int { ((max(o, c) + 3) / 4 * 4 * c * k * k + 15) / 16 * 16 }

    /// One padded image per worker: the forward's x[C, H+2p, W+2p] or the input gradient's
    /// dy[O, OH+2q, OW+2q].
    var directImageFloats: Int {
        let q = k - 1 - padding
        return max(c * (h + 2 * padding) * (w + 2 * padding), o * (oh + 2 * q) * (ow + 2 * q))
    }
}

/// out[o, r, 0..<columns] of image n for o < outChannels, from one padded image.
/// `filter` is [⌈outChannels/4⌉·4, inChannels, K, K] (rows past outChannels are zero).
private func convolveImage(_ out: ChannelSplit, image n: Int, _ input: UnsafePointer<Float>,
                           _ filter: UnsafePointer<Float>, _ p: rat_direct_problem) {
    withUnsafeTemporaryAllocation(of: UnsafeMutablePointer<Float>?.self, capacity: p.out_channels) { planes in
        for o in 0..<p.out_channels { planes[o] = out.channel(o, ofImage: n) }
        withUnsafePointer(to: p) { p in
            switch kernelInstructions {
            case .avx512: rat_direct_convolve_image_avx512(planes.baseAddress!, input, filter, p)
            case .avx2: rat_direct_convolve_image_avx2(planes.baseAddress!, input, filter, p)
            case .baseline: rat_direct_convolve_image_portable(planes.baseAddress!, input, filter, p)
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
    let p = rat_direct_problem(in_channels: s.c, out_channels: s.o, k: s.k, padded_rows: s.h + 2 * s.padding,
                               padded_columns: s.w + 2 * s.padding, rows: s.oh, columns: s.ow)
    parallelRanges(s.n, minimumPerWorker: 1, workers: s.directWorkers) { images, worker in
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
    let p = rat_direct_problem(in_channels: s.o, out_channels: s.c, k: k, padded_rows: s.oh + 2 * q,
                               padded_columns: s.ow + 2 * q, rows: s.h, columns: s.w)
    parallelRanges(s.n, minimumPerWorker: 1, workers: s.directWorkers) { images, worker in
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
// over every output row; the workers' partial dw are summed at the end.

extension ConvShape {
    /// Per worker: a padded image, then a partial dw [O, C·K·K].
    var directFilterGradWorkerFloats: Int { directImageFloats + (o * colRows + 15) / 16 * 16 }
    /// As many workers as the scratch holds (see `directWorkers`).
    var directFilterGradWorkers: Int { min(workerCount, scratchElements / directFilterGradWorkerFloats) }
    public var usesDirectFilterGrad: Bool { usesDirectKernels && k <= 5 && directFilterGradWorkers >= min(workerCount, 2) }
}

func conv2dFilterGradDirect(_ dw: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                            _ s: ConvShape, scratch: UnsafeMutablePointer<Float>) {
    let rows = s.colRows
    let (perWorker, workers) = (s.directFilterGradWorkerFloats, s.directFilterGradWorkers)
    let problem = rat_direct_problem(in_channels: s.c, out_channels: s.o, k: s.k, padded_rows: s.h + 2 * s.padding,
                                     padded_columns: s.w + 2 * s.padding, rows: s.oh, columns: s.ow)
    // A worker may get no images (parallelRanges hands out aligned chunks), so every partial
    // starts at zero here rather than inside the loop.
    for worker in 0..<workers { (scratch + worker * perWorker + s.directImageFloats).update(repeating: 0, count: s.o * rows) }
    parallelRanges(s.n, minimumPerWorker: 1, workers: workers) { images, worker in
        let padded = scratch + worker * perWorker, partial = padded + s.directImageFloats   // partial [O, C·K·K]
        for n in images {
            pad(padded, channels: s.c, rows: s.h, columns: s.w, margin: s.padding) { x + (n * s.c + $0) * s.inPlane }
            let image = dy + n * s.o * s.outPlane   // [O, OH, OW]
            withUnsafePointer(to: problem) { p in
                switch kernelInstructions {
                case .avx512: rat_direct_filter_grad_image_avx512(partial, padded, image, p)
                case .avx2: rat_direct_filter_grad_image_avx2(partial, padded, image, p)
                case .baseline: rat_direct_filter_grad_image_portable(partial, padded, image, p)
                }
            }
        }
    }
    // dw ← the sum of the workers' partials.
    dw.update(from: scratch + s.directImageFloats, count: s.o * rows)
    for worker in 1..<workers {
        let partial = scratch + worker * perWorker + s.directImageFloats
        for i in 0..<(s.o * rows) { dw[i] += partial[i] }
    }
}
