// Naive reference kernels in Double: the oracle that the Float32 kernels are checked
// against. Readable loops, no blocking.

func referenceMatmul(_ a: DTensor, _ b: DTensor, transposeA: Bool, transposeB: Bool) -> DTensor {
    let (m, k) = transposeA ? (a.shape[1], a.shape[0]) : (a.shape[0], a.shape[1])
    let n = transposeB ? b.shape[0] : b.shape[1]
    var out = [Double](repeating: 0, count: m * n)
    for i in 0..<m {
        for j in 0..<n {
            var acc = 0.0
            for p in 0..<k {
                let av = transposeA ? a.data[p * m + i] : a.data[i * k + p]
                let bv = transposeB ? b.data[j * k + p] : b.data[p * n + j]
                acc += av * bv
            }
            out[i * n + j] = acc
        }
    }
    return DTensor(shape: [m, n], data: out)
}

/// Visits every (input element, filter element, output element) triple that a grouped,
/// strided, padded convolution multiplies: the one loop nest that defines all three ops.
/// x[N,C,H,W], w[O,C/G,K,K], y[N,O,OH,OW].
private func forEachConvTap(x: [Int], w: [Int], y: [Int], _ c: Conv2D,
                            _ body: (_ xi: Int, _ wi: Int, _ yi: Int) -> Void) {
    let (n, ch, h, wd) = (x[0], x[1], x[2], x[3])
    let (o, cg, k) = (w[0], w[1], w[2])
    let (oh, ow) = (y[2], y[3])
    let og = o / c.groups
    for b in 0..<n {
        for oc in 0..<o {
            let g = oc / og
            for ic in 0..<cg {
                let xc = g * cg + ic
                for ky in 0..<k {
                    for kx in 0..<k {
                        let wi = ((oc * cg + ic) * k + ky) * k + kx
                        for oy in 0..<oh {
                            let iy = oy * c.stride - c.padding + ky
                            if iy < 0 || iy >= h { continue }
                            for ox in 0..<ow {
                                let ix = ox * c.stride - c.padding + kx
                                if ix < 0 || ix >= wd { continue }
                                body(((b * ch + xc) * h + iy) * wd + ix, wi, ((b * o + oc) * oh + oy) * ow + ox)
                            }
                        }
                    }
                }
            }
        }
    }
}

func referenceConv2d(_ x: DTensor, _ w: DTensor, _ c: Conv2D, outputShape: [Int]) -> DTensor {
    var y = [Double](repeating: 0, count: outputShape.reduce(1, *))
    forEachConvTap(x: x.shape, w: w.shape, y: outputShape, c) { xi, wi, yi in y[yi] += x.data[xi] * w.data[wi] }
    return DTensor(shape: outputShape, data: y)
}

func referenceConv2dInputGrad(_ dy: DTensor, _ w: DTensor, _ c: Conv2D, inputShape: [Int]) -> DTensor {
    var dx = [Double](repeating: 0, count: inputShape.reduce(1, *))
    forEachConvTap(x: inputShape, w: w.shape, y: dy.shape, c) { xi, wi, yi in dx[xi] += dy.data[yi] * w.data[wi] }
    return DTensor(shape: inputShape, data: dx)
}

func referenceConv2dFilterGrad(_ x: DTensor, _ dy: DTensor, _ c: Conv2D, filterShape: [Int]) -> DTensor {
    var dw = [Double](repeating: 0, count: filterShape.reduce(1, *))
    forEachConvTap(x: x.shape, w: filterShape, y: dy.shape, c) { xi, wi, yi in dw[wi] += x.data[xi] * dy.data[yi] }
    return DTensor(shape: filterShape, data: dw)
}
