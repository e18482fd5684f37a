import ArgumentParser
import Executor
import Foundation
import Graph
import Kernels
import Models
import Planner
import Training

/// `rat bench`: ms/step of training workloads on random data, achieved GFLOP/s against the
/// sgemm peak measured in the same run, peak RSS beside the planned arena.
struct Bench: ParsableCommand, BLASSettingsCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmark training steps: time, GFLOP/s, fraction of the sgemm peak, memory.")

    @Option(help: "Models, comma-separated.") var model = "small-cnn"
    @Option(help: "Workloads, comma-separated: training steps (plain, trades, taylor1, taylor12) or evaluation attacks on one batch (pgd20, apgd-ce).") var workload = "plain,trades,taylor1,taylor12"
    @Option(help: "Batch size.") var batch = 128
    @Option(help: "Timed steps (after one warm-up step); the median is reported.") var steps = 5
    @Option(help: "OpenBLAS threads (default: as OpenBLAS chose).") var threads: Int?
    @Flag(help: "One JSON object per line per (model, workload).") var json = false
    @Flag(help: "Print time per primitive kind.") var profile = false
    @Option(help: "OpenBLAS kernel family (OPENBLAS_CORETYPE) unless the environment sets one; 'auto' leaves OpenBLAS's choice. Haswell's kernels run the thin im2col gemms faster here.")
    var coretype = "Haswell"
    @Option(help: ArgumentHelp("Also run each workload compiled without one planner pass (no-groups, no-merge, no-fusion, no-fused-sums), with one more (fused-siblings) or without oneDNN (no-onednn; no-onednn-stacking: merged convolutions and convolution groups on rat's kernels) or with oneDNN's convolutions in bf16 (bf16), alternating steps with the default plan, and print both medians and their ratio.", visibility: .hidden))
    var against: String?
    @Flag(help: .hidden) var kernels = false  // time im2col/col2im/convolutions, reference vs fast
    @Flag(help: "Time oneDNN's convolutions (blocked and NCHW) against rat's own on every convolution shape of small-cnn and preact-resnet18 at --batch, side by side, and print the FMA limit.")
    var onednn = false

    var blasCoretype: String { coretype }

    func validate() throws {
        guard steps >= 1, batch >= 1 else { throw ValidationError("--steps and --batch must be positive") }
        if let against, Self.variants[against] == nil {
            throw ValidationError("unknown --against '\(against)'; known: \(Self.variants.keys.sorted().joined(separator: ", "))")
        }
    }

    /// Planner variants for A/B runs: on a shared machine, alternating steps of the two
    /// compiled programs in one process is the only comparison the load does not skew.
    static let variants: [String: GraphCompiler] = [
        "no-groups": { FastGraph($0, planner: { plan($0, groupSums: false) }) },
        "no-merge": { FastGraph($0, planner: { plan($0, mergeConvolutions: false) }) },
        "no-fusion": { FastGraph($0, planner: { plan($0, fuse: false) }) },
        "fused-siblings": { FastGraph($0, planner: { plan($0, fuseSiblings: true) }) },
        "no-fused-sums": { FastGraph($0, planner: { plan($0, fuseSums: false) }) },
        "no-onednn": { FastGraph($0, oneDNN: false) },
        "no-onednn-stacking": { FastGraph($0, stackedOneDNN: false) },
        "bf16": FastGraph.compiler(precision: .bf16),
    ]

    private func compare(_ net: any Model, _ name: String, variant: String) throws {
        let a = try BenchWorkload(model: net, workload: name, batch: batch, classes: 10)
        let b = try BenchWorkload(model: net, workload: name, batch: batch, classes: 10, compiler: Self.variants[variant]!)
        try a.step()
        try b.step()
        var (timesA, timesB) = ([Double](), [Double]())
        for _ in 0..<steps {
            for (w, isA) in [(a, true), (b, false)] {
                let start = DispatchTime.now().uptimeNanoseconds
                try w.step()
                let ms = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-6
                if isA { timesA.append(ms) } else { timesB.append(ms) }
            }
        }
        let (medianA, medianB) = (timesA.sorted()[steps / 2], timesB.sorted()[steps / 2])
        let ratios = zip(timesA, timesB).map { $0 / $1 }.sorted()
        print(String(format: "%@ %@: default %.1f ms/step, %@ %.1f ms/step (medians of %d alternating steps); default/%@ = %.3f (median of pairwise ratios %.3f)",
                     net.name, name, medianA, variant, medianB, steps, variant, medianA / medianB, ratios[steps / 2]))
        if variant == "bf16" {
            // What really ran in bf16: oneDNN declines some shapes, and rat's own kernels stay f32.
            let (all, bf16) = b.executors.reduce((0, 0)) { ($0.0 + $1.oneDNNPrimitives, $0.1 + $1.oneDNNBF16Primitives) }
            print("  bf16: \(bf16) of \(all) oneDNN primitives (bf16 native on this CPU: \(oneDNNBF16Native))")
        }
    }

    func run() throws {
        if let threads { setBlasThreads(threads) }
        if kernels { return printKernelTimings() }
        let fma = measureFMALimit()
        if !json { print(fma.text) }
        if onednn { return printOneDNNTimings(batch: batch) }
        var ceilings = [ConvShape: ConvolutionCeiling]()
        for modelName in model.split(separator: ",").map(String.init) {
            let net = try ModelZoo.make(name: modelName, options: [:], classes: 10, inputShape: [batch, 3, 32, 32])
            for name in workload.split(separator: ",").map(String.init) {
                if BenchAttack.names.contains(name) {
                    try BenchAttack(model: net, attack: name, batch: batch, classes: 10).report(model: modelName, batches: steps, json: json)
                    continue
                }
                if let against {
                    try compare(net, name, variant: against)
                    continue
                }
                let compileStart = Date()
                let w = try BenchWorkload(model: net, workload: name, batch: batch, classes: 10)
                let compileSeconds = Date().timeIntervalSince(compileStart)
                try w.step()  // warm-up: first touch of every page, OpenBLAS buffers
                let convolutions = w.convolutionShapes
                for (s, _) in convolutions where ceilings[s] == nil { ceilings[s] = measureConvolutionCeiling(s) }
                let ceiling = workloadCeiling(convolutions, ceilings)
                var times = [Double](), peaks = [Double]()
                let gemm = w.dominantGemm
                for executor in w.executors { executor.resetProfile(); executor.profiling = profile }
                for _ in 0..<steps {
                    let start = DispatchTime.now().uptimeNanoseconds
                    try w.step()
                    times.append(Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-6)
                    // The peak is sampled between steps: on a shared machine the load
                    // changes, and the ratio must compare like with like.
                    peaks.append(measureSgemmPeak(m: gemm.m, n: gemm.n, k: gemm.k))
                }
                let medianMs = times.sorted()[times.count / 2]
                let peak = peaks.sorted()[peaks.count / 2]
                let gflopPerStep = Double(w.flopsPerStep) * 1e-9
                let gflops = gflopPerStep / (medianMs * 1e-3)
                let result = BenchResult(model: modelName, workload: name, batch: batch, medianMs: medianMs, minMs: times.min()!,
                                         gflopPerStep: gflopPerStep, gflops: gflops, peakGflops: ceiling.gflops,
                                         sgemmPeakGflops: peak, fmaLimitGflops: fma.total, ceilingKernels: ceiling.kernels,
                                         peakRssMb: peakResidentMegabytes(), arenaMb: Double(w.arenaBytes) / 1_048_576,
                                         compileSeconds: compileSeconds, steps: steps,
                                         gemmShape: [gemm.m, gemm.n, gemm.k], blasThreads: blasThreads(),
                                         coretype: ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] ?? "auto")
                print(json ? result.jsonLine : result.text)
                if profile {
                    printElementwiseTraffic(w.program.graphs.compactMap { g in
                        (g.graph as? FastGraph).map { ($0.executor.plan, g.runsPerStep) } })
                    printProfile(w.executors, steps: steps)
                    printConvolutionProfile(w.program.graphs.compactMap { g in
                        (g.graph as? FastGraph).map { ($0.executor, g.runsPerStep) } }, steps: steps)
                }
            }
        }
    }

    private func printProfile(_ executors: [Executor], steps: Int) {
        var total = [Op.Kind: (seconds: Double, steps: Int)]()
        for e in executors { for (k, v) in e.profile { total[k, default: (0, 0)].seconds += v.seconds; total[k, default: (0, 0)].steps += v.steps } }
        let all = total.values.reduce(0) { $0 + $1.seconds }
        for (kind, v) in total.sorted(by: { $0.value.seconds > $1.value.seconds }) {
            let ms = v.seconds * 1e3 / Double(steps)
            print("  \(kind.rawValue.padding(toLength: 18, withPad: " ", startingAt: 0)) \(String(format: "%9.1f ms/step %5.1f%%  %6d kernels/step", ms, 100 * v.seconds / all, v.steps / steps))")
        }
    }
}

/// `--kernels`: the convolution data-movement kernels, reference vs fast, side by side.
private func printKernelTimings() {
    print("kernel            shape (N C H W → O, K/stride/padding)   reference ms   fast ms   ratio")
    for t in convolutionKernelTimings() {
        let s = t.shape
        let shape = "\(s.n)×\(s.c)×\(s.h)×\(s.w) → \(s.o), \(s.k)/\(s.stride)/\(s.padding)"
        print(String(format: "%@ %@ %10.2f %9.2f %6.2f×", t.kernel.padding(toLength: 17, withPad: " ", startingAt: 0),
                     shape.padding(toLength: 38, withPad: " ", startingAt: 0), t.referenceMs, t.fastMs,
                     t.referenceMs / t.fastMs))
    }
}

/// The elementwise passes and reductions of one step and the floats they move, under the default plan and
/// with this round's fusion passes switched on or off (the graphs re-planned, not run).
private func printElementwiseTraffic(_ plans: [(plan: Plan, runs: Int)]) {
    let variants: [(String, (Graph) -> Plan)] = [
        ("default", { plan($0) }), ("fused-siblings", { plan($0, fuseSiblings: true) }),
        ("no-fused-sums", { plan($0, fuseSums: false) }),
        ("fused-siblings, no-fused-sums", { plan($0, fuseSiblings: true, fuseSums: false) }),
    ]
    for (name, planner) in variants {
        var total = (passes: 0, reads: 0, writes: 0)
        for (p, runs) in plans {
            let t = planner(p.graph).elementwiseTraffic
            total = (total.passes + runs * t.passes, total.reads + runs * t.reads, total.writes + runs * t.writes)
        }
        print(String(format: "  elementwise and reductions, %@: %d passes/step reading %.0f M and writing %.0f M floats",
                     name, total.passes, Double(total.reads) * 1e-6, Double(total.writes) * 1e-6))
    }
}

/// Convolution steps grouped by kind and shapes (the executors' per-step times): where the
/// gemm-bound time goes and how close each shape runs to the sgemm peak.
private func printConvolutionProfile(_ executors: [(executor: Executor, runs: Int)], steps: Int) {
    var groups = [String: (seconds: Double, flops: Double, calls: Int)]()
    for (executor, runs) in executors {
        for (planned, seconds) in zip(executor.plan.steps, executor.stepSeconds) {
            let shapes = (planned.operands.map(\.shape) + [planned.output.shape]).map { $0.map(String.init).joined(separator: "x") }
            var name = planned.kind.rawValue
            func listing(_ instructions: [FusedInstruction]) -> String {
                instructions.map { i -> String in
                    if case .apply(let op, _) = i { return op.kind.rawValue } else { return "bcast" } }.joined(separator: " ")
            }
            if case .fused(let instructions, _) = planned.operation { name = "fused[" + listing(instructions) + "]" }
            if case .fusedSum(let instructions, _, _, _) = planned.operation { name = "fused sum[" + listing(instructions) + "]" }
            let key = "\(name) \(shapes.joined(separator: ", "))"
            groups[key, default: (0, 0, 0)].seconds += seconds
            groups[key, default: (0, 0, 0)].flops += Double(planned.flops * runs * steps)
            groups[key, default: (0, 0, 0)].calls += runs
        }
    }
    for (key, g) in groups.sorted(by: { $0.value.seconds > $1.value.seconds }).prefix(40) {
        print(String(format: "    %8.1f ms/step %5.1f GFLOP/s %4d calls/step  %@", g.seconds * 1e3 / Double(steps),
                     g.flops / max(g.seconds, 1e-12) * 1e-9, g.calls, key))
    }
}

struct BenchResult {
    var model, workload: String
    var batch: Int
    var medianMs, minMs, gflopPerStep, gflops: Double
    /// The workload's convolution ceiling (`workloadCeiling`); the sgemm of its largest
    /// convolution sampled between steps; the FMA limit of the workers' cores.
    var peakGflops, sgemmPeakGflops, fmaLimitGflops: Double
    var ceilingKernels: String
    var peakRssMb, arenaMb, compileSeconds: Double
    var steps: Int
    var gemmShape: [Int]
    var blasThreads: Int
    var coretype: String
    var peakFraction: Double { gflops / peakGflops }
    var fmaFraction: Double { gflops / fmaLimitGflops }

    var text: String {
        String(format: "%@ %@ batch %d: %.1f ms/step (median of %d), %.2f GFLOP/step, %.1f GFLOP/s = %.0f%% of the convolution ceiling %.1f GFLOP/s (%@), %.0f%% of the FMA limit %.0f GFLOP/s; sgemm %.1f GFLOP/s (M,N,K = %@); peak RSS %.0f MB, arena %.0f MB, compile %.1f s",
               model, workload, batch, medianMs, steps, gflopPerStep, gflops, 100 * peakFraction, peakGflops, ceilingKernels,
               100 * fmaFraction, fmaLimitGflops, sgemmPeakGflops,
               gemmShape.map(String.init).joined(separator: ","), peakRssMb, arenaMb, compileSeconds)
    }

    var jsonLine: String {
        func f(_ x: Double) -> String { String(format: "%.4f", x) }
        return "{\"model\":\"\(model)\",\"workload\":\"\(workload)\",\"batch\":\(batch),\"median_ms\":\(f(medianMs)),\"min_ms\":\(f(minMs)),"
            + "\"gflop_per_step\":\(f(gflopPerStep)),\"gflops\":\(f(gflops)),\"peak_gflops\":\(f(peakGflops)),"
            + "\"peak_fraction\":\(f(peakFraction)),\"ceiling_kernels\":\"\(ceilingKernels)\",\"sgemm_peak_gflops\":\(f(sgemmPeakGflops)),"
            + "\"fma_limit_gflops\":\(f(fmaLimitGflops)),\"fma_fraction\":\(f(fmaFraction)),\"peak_rss_mb\":\(f(peakRssMb)),\"arena_mb\":\(f(arenaMb)),"
            + "\"steps\":\(steps),\"compile_s\":\(f(compileSeconds)),\"peak_gemm_mnk\":\(gemmShape),\"blas_threads\":\(blasThreads),\"openblas_coretype\":\"\(coretype)\"}"
    }
}

/// Best GFLOP/s of a few sgemm calls of one shape (the same-run peak the bench compares against).
func measureSgemmPeak(m: Int, n: Int, k: Int, repeats: Int = 5) -> Double {
    let a = UnsafeMutablePointer<Float>.allocate(capacity: m * k)
    let b = UnsafeMutablePointer<Float>.allocate(capacity: k * n)
    let c = UnsafeMutablePointer<Float>.allocate(capacity: m * n)
    defer { a.deallocate(); b.deallocate(); c.deallocate() }
    a.initialize(repeating: 0.5, count: m * k)
    b.initialize(repeating: 0.25, count: k * n)
    c.initialize(repeating: 0, count: m * n)
    var best = 0.0
    for _ in 0..<repeats {
        let start = DispatchTime.now().uptimeNanoseconds
        sgemm(c, ldc: n, a, lda: k, transposeA: false, b, ldb: n, transposeB: false, m: m, n: n, k: k)
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
        best = max(best, 2 * Double(m * n * k) / seconds * 1e-9)
    }
    return best
}

/// VmHWM of this process, in MB.
func peakResidentMegabytes() -> Double {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
          let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }) else { return 0 }
    return (Double(line.split(separator: " ").dropFirst().first ?? "0") ?? 0) / 1024
}
