import COpenBLAS

/// c[M,N] = alpha · op(a)·op(b) + beta · c, row-major; op(a) is [M,K], op(b) is [K,N].
/// `lda`, `ldb`, `ldc` are the row strides of the stored (untransposed) matrices.
@inline(__always)
public func sgemm(_ c: UnsafeMutablePointer<Float>, ldc: Int,
                  _ a: UnsafePointer<Float>, lda: Int, transposeA: Bool,
                  _ b: UnsafePointer<Float>, ldb: Int, transposeB: Bool,
                  m: Int, n: Int, k: Int, alpha: Float = 1, beta: Float = 0) {
    cblas_sgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
}

/// The matmul primitive: c[M,N] = op(a)·op(b) with dense operands.
public func matmulForward(_ c: UnsafeMutablePointer<Float>, // [M,N]
                          _ a: UnsafePointer<Float>,        // [M,K], or [K,M] when transposeA
                          _ b: UnsafePointer<Float>,        // [K,N], or [N,K] when transposeB
                          m: Int, n: Int, k: Int, transposeA: Bool, transposeB: Bool) {
    sgemm(c, ldc: n, a, lda: transposeA ? m : k, transposeA: transposeA,
          b, ldb: transposeB ? k : n, transposeB: transposeB, m: m, n: n, k: k)
}

/// The naive kernel the BLAS path is tested against.
public func matmulNaive(_ c: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
                        m: Int, n: Int, k: Int, transposeA: Bool, transposeB: Bool) {
    for i in 0..<m {
        for j in 0..<n {
            var acc: Float = 0
            for p in 0..<k {
                acc += (transposeA ? a[p * m + i] : a[i * k + p]) * (transposeB ? b[j * k + p] : b[p * n + j])
            }
            c[i * n + j] = acc
        }
    }
}
