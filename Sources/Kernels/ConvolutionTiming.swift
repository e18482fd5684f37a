import Dispatch

// Side-by-side timings of the convolution data-movement kernels, reference vs fast, in one
// process (the machine is shared and noisy: only same-run ratios mean anything). Printed
// by the hidden `rat bench --kernels`.

/// Median ms per call of one kernel on one shape, the reference and the fast version.
public struct KernelTiming: Sendable {
    public var kernel: String
    public var shape: ConvShape
    public var referenceMs, fastMs: Double
}

/// The hot im2col shapes at batch 128: small-cnn's two stride-2 layers, then PreAct
/// ResNet-18's stride-1 3×3 layers and a 1×1 stride-2 shortcut.
public let timedConvolutionShapes: [ConvShape] = [
    ConvShape(n: 128, c: 32, h: 32, w: 32, o: 64, k: 3, stride: 2, padding: 1, groups: 1),
    ConvShape(n: 128, c: 64, h: 16, w: 16, o: 128, k: 3, stride: 2, padding: 1, groups: 1),
    ConvShape(n: 128, c: 64, h: 32, w: 32, o: 64, k: 3, stride: 1, padding: 1, groups: 1),
    ConvShape(n: 128, c: 128, h: 16, w: 16, o: 128, k: 3, stride: 1, padding: 1, groups: 1),
    ConvShape(n: 128, c: 256, h: 8, w: 8, o: 256, k: 3, stride: 1, padding: 1, groups: 1),
    ConvShape(n: 128, c: 512, h: 4, w: 4, o: 512, k: 3, stride: 1, padding: 1, groups: 1),
    ConvShape(n: 128, c: 64, h: 32, w: 32, o: 128, k: 1, stride: 2, padding: 0, groups: 1),
]

/// im2col and col2im over a whole batch (every block, as the convolutions call them; the
/// reference col2im includes the zeroing of dx it needs), copyBlockRows (one version), and
/// the three convolutions with either pair of kernels.
public func convolutionKernelTimings(shapes: [ConvShape] = timedConvolutionShapes, repeats: Int = 5,
                                     wholeConvolutions: Bool = true) -> [KernelTiming] {
    var timings = [KernelTiming]()
    for s in shapes {
        let xCount = s.n * s.c * s.inPlane, yCount = s.n * s.o * s.outPlane, wCount = s.o * s.colRows
        let x = randomFloats(xCount), dy = randomFloats(yCount), w = randomFloats(wCount)
        let dx = UnsafeMutablePointer<Float>.allocate(capacity: xCount)         // [N,C,H,W]
        let y = UnsafeMutablePointer<Float>.allocate(capacity: yCount)          // [N,O,OH,OW]
        let dw = UnsafeMutablePointer<Float>.allocate(capacity: wCount)         // [O,Cg,K,K]
        let scratch = randomFloats(s.scratchElements)                           // col, t
        defer { for p in [x, dy, w, dx, y, dw, scratch] { p.deallocate() } }
        let dxSplit = ChannelSplit(dx, channels: s.c, plane: s.inPlane)
        let ySplit = ChannelSplit(y, channels: s.o, plane: s.outPlane)
        let ld = s.blockColumns

        func overBlocks(_ body: (_ first: Int, _ images: Int, _ g: Int) -> Void) {
            for first in stride(from: 0, to: s.n, by: s.imagesPerBlock) {
                for g in 0..<s.groups { body(first, min(s.imagesPerBlock, s.n - first), g) }
            }
        }
        func time(_ kernel: String, _ reference: () -> Void, _ fast: () -> Void) {
            let (r, f) = medianMs(repeats: repeats, reference, fast)
            timings.append(KernelTiming(kernel: kernel, shape: s, referenceMs: r, fastMs: f))
        }

        time("im2col", {
            overBlocks { im2colReference(scratch, rowStride: ld, x, firstImage: $0, images: $1, group: $2, s) }
        }, {
            overBlocks { im2col(scratch, rowStride: ld, x, firstImage: $0, images: $1, group: $2, s) }
        })
        time("col2im", {
            dxSplit.zero(images: s.n)
            overBlocks { col2imReference(dxSplit, firstImage: $0, images: $1, group: $2, scratch, rowStride: ld, s) }
        }, {
            overBlocks { col2im(dxSplit, firstImage: $0, images: $1, group: $2, scratch, rowStride: ld, s) }
        })
        let copyRows = {
            overBlocks { copyBlockRows(s, firstImage: $0, images: $1, group: $2, ySplit, scratch, toBlock: false) }
        }
        time("copyBlockRows", copyRows, copyRows)
        guard wholeConvolutions else { continue }
        time("conv2dForward", {
            conv2dForwardBlocks(ySplit, x, w, s, scratch: scratch, kernels: .reference)
        }, {
            conv2dForwardBlocks(ySplit, x, w, s, scratch: scratch, kernels: .fast)
        })
        time("conv2dInputGrad", {
            conv2dInputGradBlocks(dxSplit, dy, w, s, scratch: scratch, kernels: .reference)
        }, {
            conv2dInputGradBlocks(dxSplit, dy, w, s, scratch: scratch, kernels: .fast)
        })
        time("conv2dFilterGrad", {
            conv2dFilterGradBlocks(dw, x, dy, s, scratch: scratch, kernels: .reference)
        }, {
            conv2dFilterGradBlocks(dw, x, dy, s, scratch: scratch, kernels: .fast)
        })
    }
    return timings
}

/// Whether the three convolutions give bit-identical results with the fast kernels and
/// with the reference ones (so also with OpenBLAS accumulating into a zeroed col instead of
/// zeroing it itself), starting from scratch full of NaNs each time.
public func convolutionKernelsAgree(_ s: ConvShape) -> Bool {
    let xCount = s.n * s.c * s.inPlane, yCount = s.n * s.o * s.outPlane, wCount = s.o * s.colRows
    let x = randomFloats(xCount), dy = randomFloats(yCount), w = randomFloats(wCount)
    let scratch = UnsafeMutablePointer<Float>.allocate(capacity: max(1, s.scratchElements))  // col, t
    let outputs = [ColumnKernels.fast, .reference].map { kernels -> [[UInt32]] in
        let y = UnsafeMutablePointer<Float>.allocate(capacity: yCount)   // [N,O,OH,OW]
        let dx = UnsafeMutablePointer<Float>.allocate(capacity: xCount)  // [N,C,H,W]
        let dw = UnsafeMutablePointer<Float>.allocate(capacity: wCount)  // [O,Cg,K,K]
        defer { for p in [y, dx, dw] { p.deallocate() } }
        func poisonScratch() { scratch.update(repeating: .nan, count: s.scratchElements) }
        poisonScratch()
        conv2dForwardBlocks(ChannelSplit(y, channels: s.o, plane: s.outPlane), x, w, s, scratch: scratch, kernels: kernels)
        poisonScratch()
        conv2dInputGradBlocks(ChannelSplit(dx, channels: s.c, plane: s.inPlane), dy, w, s, scratch: scratch,
                              kernels: kernels)
        poisonScratch()
        conv2dFilterGradBlocks(dw, x, dy, s, scratch: scratch, kernels: kernels)
        return [(y, yCount), (dx, xCount), (dw, wCount)].map { p, count in (0..<count).map { p[$0].bitPattern } }
    }
    for p in [x, dy, w, scratch] { p.deallocate() }
    return outputs[0] == outputs[1]
}

/// Median ms of each of two bodies, run alternately after one warm-up call each.
private func medianMs(repeats: Int, _ a: () -> Void, _ b: () -> Void) -> (Double, Double) {
    func ms(_ body: () -> Void) -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        body()
        return Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-6
    }
    a(); b()
    var (ta, tb) = ([Double](), [Double]())
    for _ in 0..<repeats { ta.append(ms(a)); tb.append(ms(b)) }
    return (ta.sorted()[repeats / 2], tb.sorted()[repeats / 2])
}

/// count floats uniform in [−1, 1) from a fixed-seed generator.
private func randomFloats(_ count: Int) -> UnsafeMutablePointer<Float> {
    let p = UnsafeMutablePointer<Float>.allocate(capacity: max(1, count))
    var state: UInt64 = 0x9E37_79B9_7F4A_7C15
    for i in 0..<count {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        p[i] = Float(Int32(truncatingIfNeeded: state >> 32)) / 2_147_483_648
    }
    return p
}
