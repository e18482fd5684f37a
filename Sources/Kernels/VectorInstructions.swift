import CMachine
import Foundation

/// The vector instructions the C kernels (the elementwise interpreter, the direct
/// convolutions) are built for, one twin each, chosen by the CPU at run time: one binary
/// runs on any x86-64 and on arm64.
public enum VectorInstructions: String, Sendable, CaseIterable {
    case avx512 = "AVX-512", avx2 = "AVX2 + FMA", baseline

    /// Whether this CPU runs the twin.
    public var available: Bool {
        switch self {
        case .avx512: rat_fma_limit_width() == 16
        case .avx2: cpuHasAVX2FMA
        case .baseline: true
        }
    }
}

/// The twin this process runs: the widest the CPU has, or the baseline when
/// RAT_PORTABLE_KERNELS is set (the tests run the portable builds this way; it is the one
/// arm64 runs).
public let kernelInstructions: VectorInstructions =
    ProcessInfo.processInfo.environment["RAT_PORTABLE_KERNELS"] != nil ? .baseline
    : VectorInstructions.allCases.first { $0.available }!
