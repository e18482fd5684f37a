// Sums of convolutions over shared operands as one step (the planner's convolution groups,
// see `Planner/ConvolutionGroups.swift`): output j = Σ coefficient · conv(operand[slot], w).
//   forward:   per block, im2col every slot once into stacked col rows [S·CKK, B·OHW];
//              per output and run of consecutive slots, one gemm of the run's filters side
//              by side [O, run·CKK] into t[O, B·OHW], accumulating over runs; t → y.
//   transpose: per block, gather every slot's dy once into stacked rows t[S·O, B·OHW];
//              per output and run, one gemm [run·O, CKK]ᵀ · t-rows into dcol, accumulating
//              over runs; one col2im into dx.
// A run's filter is built once per call: for each slot, the sum of its terms' filters
// scaled by their coefficients.

/// Terms of one output on consecutive slots firstSlot..<firstSlot+slotCount.
public struct FilterRun {
    public var firstSlot: Int
    public var slotCount: Int
    public var terms: [(slot: Int, filter: UnsafePointer<Float>, coefficient: Float)]
    /// Where the stacked filter of the run starts in scratch (floats).
    public var stackedOffset: Int

    public init(firstSlot: Int, slotCount: Int, terms: [(slot: Int, filter: UnsafePointer<Float>, coefficient: Float)],
                stackedOffset: Int) {
        (self.firstSlot, self.slotCount, self.terms, self.stackedOffset) = (firstSlot, slotCount, terms, stackedOffset)
    }
}

/// A bound group: one term's convolution shape (x[N,C,H,W] ⊛ w[O,C,K,K] → y[N,O,OH,OW]),
/// the slots (x tensors forward, dy tensors for the transpose), the outputs and their runs.
public struct ConvolutionGroupProblem {
    public var shape: ConvShape
    public var slots: [UnsafePointer<Float>]
    public var outputs: [UnsafeMutablePointer<Float>]
    public var runs: [[FilterRun]]
    public var transpose: Bool
    /// Floats of scratch before the im2col/gemm buffers: every run's stacked filter.
    public var stackedFloats: Int

    /// Lays out the runs of each output's terms (sorted by slot) in scratch.
    public init(shape: ConvShape, slots: [UnsafePointer<Float>], outputs: [UnsafeMutablePointer<Float>],
                terms: [[(slot: Int, filter: UnsafePointer<Float>, coefficient: Float)]], transpose: Bool) {
        (self.shape, self.slots, self.outputs, self.transpose) = (shape, slots, outputs, transpose)
        var offset = 0
        runs = terms.map { outputTerms in
            var runs = [FilterRun]()
            for term in outputTerms.sorted(by: { $0.slot < $1.slot }) {
                if let last = runs.last, term.slot < last.firstSlot + last.slotCount {
                    runs[runs.count - 1].terms.append(term)          // another filter on the same slot
                } else if let last = runs.last, term.slot == last.firstSlot + last.slotCount {
                    runs[runs.count - 1].slotCount += 1
                    runs[runs.count - 1].terms.append(term)
                } else {
                    runs.append(FilterRun(firstSlot: term.slot, slotCount: 1, terms: [term], stackedOffset: 0))
                }
            }
            for r in runs.indices {
                runs[r].stackedOffset = offset
                offset += (runs[r].slotCount * shape.o * shape.colRows + 15) / 16 * 16
            }
            return runs
        }
        stackedFloats = offset
    }

    /// Floats of scratch the step needs.
    public var scratchElements: Int { stackedFloats + Self.blockFloats(shape, slots: slots.count, transpose: transpose) }

    /// The im2col / gemm buffers of one block: col and t.
    public static func blockFloats(_ s: ConvShape, slots: Int, transpose: Bool) -> Int {
        (transpose ? s.colRows + slots * s.o : slots * s.colRows + s.o) * s.blockColumns
    }
}

/// Builds every run's filter: forward [O, run·CKK] (slots side by side along a row),
/// transpose [run·O, CKK] (slots one after another), each slot the coefficient-weighted sum
/// of its terms' filters w[O, CKK].
private func stackFilters(_ p: ConvolutionGroupProblem, _ scratch: UnsafeMutablePointer<Float>) {
    let (o, rows) = (p.shape.o, p.shape.colRows)
    for run in p.runs.joined() {
        let stacked = scratch + run.stackedOffset
        stacked.update(repeating: 0, count: run.slotCount * o * rows)
        for term in run.terms {
            let position = term.slot - run.firstSlot
            for row in 0..<o {
                let dst = p.transpose ? stacked + (position * o + row) * rows : stacked + (row * run.slotCount + position) * rows
                let src = term.filter + row * rows
                for r in 0..<rows { dst[r] += term.coefficient * src[r] }
            }
        }
    }
}

public func convolutionGroup(_ p: ConvolutionGroupProblem, scratch: UnsafeMutablePointer<Float>) {
    stackFilters(p, scratch)
    let s = p.shape, ld = s.blockColumns, rows = s.colRows
    let work = scratch + p.stackedFloats
    if !p.transpose {
        let col = work, t = work + p.slots.count * rows * ld   // col [S·CKK, ld], t [O, ld]
        for first in stride(from: 0, to: s.n, by: s.imagesPerBlock) {
            let images = min(s.imagesPerBlock, s.n - first)
            for (k, x) in p.slots.enumerated() {
                im2col(col + k * rows * ld, rowStride: ld, x, firstImage: first, images: images, group: 0, s)
            }
            for (y, runs) in zip(p.outputs, p.runs) {
                for (r, run) in runs.enumerated() {
                    sgemm(t, ldc: ld, scratch + run.stackedOffset, lda: run.slotCount * rows, transposeA: false,
                          col + run.firstSlot * rows * ld, ldb: ld, transposeB: false,
                          m: s.o, n: images * s.outPlane, k: run.slotCount * rows, beta: r == 0 ? 0 : 1)
                }
                copyBlockRows(s, firstImage: first, images: images, group: 0,
                              ChannelSplit(y, channels: s.o, plane: s.outPlane), t, toBlock: false)
            }
        }
    } else {
        let dcol = work, t = work + rows * ld                  // dcol [CKK, ld], t [S·O, ld]
        // As in `conv2dInputGrad`: col2im writes dx whole and clears the dcol it reads, so
        // every gemm accumulates into a dcol that is zero (no OpenBLAS zeroing pass).
        dcol.update(repeating: 0, count: rows * ld)
        for first in stride(from: 0, to: s.n, by: s.imagesPerBlock) {
            let images = min(s.imagesPerBlock, s.n - first)
            for (k, dy) in p.slots.enumerated() {
                copyBlockRows(s, firstImage: first, images: images, group: 0,
                              ChannelSplit(UnsafeMutablePointer(mutating: dy), channels: s.o, plane: s.outPlane),
                              t + k * s.o * ld, toBlock: true)
            }
            for (dx, runs) in zip(p.outputs, p.runs) {
                for run in runs {
                    sgemm(dcol, ldc: ld, scratch + run.stackedOffset, lda: rows, transposeA: true,
                          t + run.firstSlot * s.o * ld, ldb: ld, transposeB: false,
                          m: rows, n: images * s.outPlane, k: run.slotCount * s.o, beta: 1)
                }
                col2im(ChannelSplit(dx, channels: s.c, plane: s.inPlane), firstImage: first, images: images, group: 0,
                       dcol, rowStride: ld, s, accumulate: false, clearingColumns: true)
            }
        }
    }
}
