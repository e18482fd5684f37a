import Kernels
import Testing

/// The ceilings `rat bench` reports against.
@Suite struct Ceilings {
    @Test func fmaLimitRunsTheWidestLoopTheCPUHas() {
        let limit = measureFMALimit(workers: 2, repeats: 1)
        #expect([4, 8, 16].contains(limit.width))
        if cpuHasAVX2FMA { #expect(limit.width >= 8, "AVX2 + FMA present but the \(limit.width)-float loop ran") }
        #expect(limit.perCore.isFinite && limit.perCore > 0.1, "\(limit.perCore) GFLOP/s per core")
        #expect(limit.total == limit.perCore * 2)
    }

    @Test func convolutionCeilingIsTheBestOfItsKernels() {
        let s = ConvShape(n: 4, c: 16, h: 8, w: 8, o: 16, k: 3, stride: 1, padding: 1, groups: 1)
        let c = measureConvolutionCeiling(s, repeats: 1)
        #expect(c.sgemm > 0 && c.rat > 0 && c.sgemm.isFinite && c.rat.isFinite)
        #expect((c.oneDNN != nil) == oneDNNEnabled)
        #expect(c.best == max(c.sgemm, c.rat, c.oneDNN ?? 0))
    }
}
