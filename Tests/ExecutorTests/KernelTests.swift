import Kernels
import Testing

/// The fast kernels against the naive ones beside them.
@Suite struct FastKernelsMatchNaive {
    static func random(_ count: Int, seed: UInt64) -> [Float] {
        var rng = SeededRandom(seed)
        return (0..<count).map { _ in Float(rng.uniform(-1...1)) }
    }

    static func maxRelativeDifference(_ a: [Float], _ b: [Float]) -> Float {
        let scale = max(b.map(abs).max() ?? 0, 1e-30)
        return zip(a, b).map { abs($0 - $1) }.max()! / scale
    }

    @Test(arguments: [
        ConvShape(n: 2, c: 5, h: 9, w: 9, o: 6, k: 3, stride: 1, padding: 1, groups: 1),
        ConvShape(n: 2, c: 4, h: 10, w: 10, o: 8, k: 3, stride: 2, padding: 1, groups: 1),
        ConvShape(n: 1, c: 6, h: 7, w: 7, o: 6, k: 3, stride: 2, padding: 0, groups: 3),
        ConvShape(n: 2, c: 8, h: 6, w: 6, o: 4, k: 1, stride: 1, padding: 0, groups: 1),
        ConvShape(n: 2, c: 8, h: 6, w: 6, o: 4, k: 1, stride: 2, padding: 0, groups: 1),
        ConvShape(n: 3, c: 4, h: 11, w: 13, o: 6, k: 3, stride: 2, padding: 1, groups: 2),
        ConvShape(n: 2, c: 4, h: 34, w: 34, o: 4, k: 3, stride: 2, padding: 1, groups: 1),
        ConvShape(n: 2, c: 4, h: 10, w: 9, o: 4, k: 3, stride: 3, padding: 1, groups: 1),
        // 4 images per block (1024 columns each): the last block holds 2.
        ConvShape(n: 6, c: 4, h: 32, w: 32, o: 6, k: 3, stride: 1, padding: 1, groups: 1),
        // Direct kernels (few input channels, stride 1, rows of 16k columns):
        ConvShape(n: 3, c: 3, h: 16, w: 16, o: 6, k: 3, stride: 1, padding: 1, groups: 1),
        ConvShape(n: 2, c: 2, h: 16, w: 16, o: 5, k: 1, stride: 1, padding: 0, groups: 1),
        ConvShape(n: 2, c: 1, h: 16, w: 32, o: 8, k: 5, stride: 1, padding: 2, groups: 1),
    ])
    func convolutionAndItsTransposes(_ s: ConvShape) {
        let x = Self.random(s.n * s.c * s.h * s.w, seed: 1)
        let w = Self.random(s.o * s.c / s.groups * s.k * s.k, seed: 2)
        let dy = Self.random(s.n * s.o * s.oh * s.ow, seed: 3)
        #expect(s.usesDirectKernels == (s.stride == 1 && s.c <= 3), "\(s)")
        var scratch = [Float](repeating: 0, count: max(1, s.scratchElements))
        var fast = [Float](repeating: 0, count: dy.count), naive = fast
        conv2dForward(&fast, x, w, s, scratch: &scratch)
        conv2dForwardNaive(&naive, x, w, s)
        #expect(Self.maxRelativeDifference(fast, naive) < 1e-5)
        var dxFast = [Float](repeating: 0, count: x.count), dxNaive = dxFast
        conv2dInputGrad(&dxFast, dy, w, s, scratch: &scratch)
        conv2dInputGradNaive(&dxNaive, dy, w, s)
        #expect(Self.maxRelativeDifference(dxFast, dxNaive) < 1e-5)
        var dwFast = [Float](repeating: 0, count: w.count), dwNaive = dwFast
        conv2dFilterGrad(&dwFast, x, dy, s, scratch: &scratch)
        conv2dFilterGradNaive(&dwNaive, x, dy, s)
        #expect(Self.maxRelativeDifference(dwFast, dwNaive) < 1e-5)
    }

    @Test func matmulAllTransposes() {
        let (m, n, k) = (7, 5, 9)
        let a = Self.random(m * k, seed: 4), b = Self.random(k * n, seed: 5)
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            var fast = [Float](repeating: 0, count: m * n), naive = fast
            matmulForward(&fast, a, b, m: m, n: n, k: k, transposeA: ta, transposeB: tb)
            matmulNaive(&naive, a, b, m: m, n: n, k: k, transposeA: ta, transposeB: tb)
            #expect(Self.maxRelativeDifference(fast, naive) < 1e-5)
        }
    }
}
