import Foundation
import CDirectKernels
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
        // Rows of 32 columns: the AVX-512 twin's wide blocks, both directions.
        ConvShape(n: 3, c: 3, h: 32, w: 32, o: 6, k: 3, stride: 1, padding: 1, groups: 1),
        // Enough images for both workers, an odd number of output channels:
        ConvShape(n: 40, c: 3, h: 16, w: 16, o: 5, k: 3, stride: 1, padding: 1, groups: 1),
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

    /// BatchNorm's normalize-scale-shift-relu as one fused program, against a plain loop.
    /// Planes of 1024 values take the path that keeps a chunk's per-channel value as a
    /// scalar; planes of 100 (chunks straddle channels) take the gather path; one channel
    /// is a broadcast of a single value.
    @Test(arguments: [[2, 3, 32, 32], [3, 5, 10, 10], [4, 1, 1, 700]])
    func fusedProgramWithPerChannelBroadcasts(_ shape: [Int]) {
        let (n, c, plane) = (shape[0], shape[1], shape[2] * shape[3])
        let count = n * c * plane
        let x = Self.random(count, seed: 6), mean = Self.random(c, seed: 7), scale = Self.random(c, seed: 8)
        let layout = StridedLayout.broadcast(from: [1, c, 1, 1], to: shape)
        let program = ElementwiseProgram(instructions: [
            .gather(input: 1, layout),
            .binary(.sub, .input(0), .register(0)),
            .gather(input: 2, layout),
            .binary(.mul, .register(1), .register(2)),
            .unary(.relu, .register(3)),
        ])
        var fast = [Float](repeating: 0, count: count)
        let (inputs, registers) = (KernelBuffers([x, mean, scale]), KernelBuffers(registersFor: program))
        runElementwise(&fast, inputs.table, program, count: count, registers: registers.buffers[0])
        let expected = (0..<count).map { i in max((x[i] - mean[i / plane % c]) * scale[i / plane % c], 0) }
        #expect(zip(fast, expected).filter { $0 != $1 }.isEmpty, "fused result differs from the plain loop")
    }

    /// A long program whose registers are reused by liveness (results overwrite operands
    /// read for the last time, the same register read twice by one instruction), with
    /// per-channel broadcasts kept as scalars and constants: exactly the plain loop.
    @Test func longFusedProgramReusesRegisters() {
        let shape = [2, 3, 32, 32]
        let (c, plane) = (shape[1], shape[2] * shape[3])
        let count = shape.reduce(1, *)
        let x = Self.random(count, seed: 9), y = Self.random(count, seed: 10), s = Self.random(c, seed: 11)
        let program = ElementwiseProgram(instructions: [
            .gather(input: 2, .broadcast(from: [1, c, 1, 1], to: shape)),   // r0 = s[c]
            .binary(.mul, .input(0), .register(0)),                          // r1 = x·s
            .binary(.add, .register(1), .input(1)),                          // r2 = x·s + y
            .binary(.mul, .register(2), .register(2)),                       // r3 = r2²
            .binary(.sub, .register(3), .register(0)),                       // r4 = r3 − s
            .unary(.relu, .register(4)),                                     // r5
            .binary(.mul, .register(5), .scalar(0.5)),                       // r6
            .binary(.maximum, .register(6), .input(1)),                      // r7
            .unary(.neg, .register(7)),                                      // r8
            .binary(.add, .register(8), .register(1)),                       // out = −r7 + x·s
        ])
        #expect(program.registerElements < 9 * ElementwiseProgram.registerStride, "registers are reused")
        var fast = [Float](repeating: 0, count: count)
        let (inputs, registers) = (KernelBuffers([x, y, s]), KernelBuffers(registersFor: program))
        runElementwise(&fast, inputs.table, program, count: count, registers: registers.buffers[0])
        let expected = (0..<count).map { i -> Float in
            let sc = s[i / plane % c]
            let r1 = x[i] * sc, r2 = r1 + y[i], r4 = r2 * r2 - sc
            let r6 = max(r4, 0) * 0.5
            let r7 = r6 >= y[i] ? r6 : y[i]
            return -r7 + r1
        }
        #expect(zip(fast, expected).filter { $0 != $1 }.isEmpty, "fused result differs from the plain loop")
    }

    /// Every operation, every operand kind (two buffers, a constant on either side, a
    /// per-channel broadcast kept as a scalar or filled into a register), on every vector
    /// twin this CPU runs, bit for bit against the scalar definitions; NaN, ±0 and ±∞
    /// included, and lengths that leave vector tails.
    @Test(arguments: [[2, 3, 11, 17], [3, 4, 2, 5]])
    func everyOperationOnEveryTwin(_ shape: [Int]) {
        let (c, plane) = (shape[1], shape[2] * shape[3])
        let count = shape.reduce(1, *)
        let specials: [Float] = [0, -0.0, .nan, .infinity, -.infinity, 1, -1, 2, 0.5]
        var x = Self.random(count, seed: 12), y = Self.random(count, seed: 13)
        for (i, v) in specials.enumerated() { x[i * 7 % count] = v; y[i * 5 % count] = specials[(i + 2) % specials.count] }
        y[10] = x[10]   // `equal` sees a match
        let s = Self.random(c, seed: 14).map { $0 + 0.1 }
        let channel = { (i: Int) in s[i / plane % c] }
        let perChannel = StridedLayout.broadcast(from: [1, c, 1, 1], to: shape)
        let unaries: [(UnaryOpcode, (Float) -> Float)] = [
            (.neg, { -$0 }), (.exp, { Foundation.exp($0) }), (.log, { Foundation.log($0) }),
            (.sqrt, { $0.squareRoot() }), (.relu, { $0 > 0 ? $0 : 0 }), (.step, { $0 > 0 ? 1 : 0 }),
            (.sign, { $0 > 0 ? 1 : ($0 < 0 ? -1 : 0) }), (.copy, { $0 }),
        ]
        let binaries: [(BinaryOpcode, (Float, Float) -> Float)] = [
            (.add, +), (.sub, -), (.mul, *), (.div, /), (.maximum, { $0 >= $1 ? $0 : $1 }),
            (.minimum, { $0 <= $1 ? $0 : $1 }), (.equal, { $0 == $1 ? 1 : 0 }),
        ]
        var cases: [(String, [ElementwiseInstruction], (Int) -> Float)] = []
        for (op, f) in unaries {
            cases.append(("\(op)(x)", [.unary(op, .input(0))], { f(x[$0]) }))
            cases.append(("\(op)(s[c])", [.gather(input: 2, perChannel), .unary(op, .register(0)),
                                          .binary(.add, .register(1), .input(0))], { f(channel($0)) + x[$0] }))
        }
        for (op, f) in binaries {
            cases.append(("\(op)(x, y)", [.binary(op, .input(0), .input(1))], { f(x[$0], y[$0]) }))
            cases.append(("\(op)(x, 0.5)", [.binary(op, .input(0), .scalar(0.5))], { f(x[$0], 0.5) }))
            cases.append(("\(op)(-1, y)", [.binary(op, .scalar(-1), .input(1))], { f(-1, y[$0]) }))
            cases.append(("\(op)(s[c], y)", [.gather(input: 2, perChannel), .binary(op, .register(0), .input(1))],
                          { f(channel($0), y[$0]) }))
            cases.append(("\(op)(x, x) in place", [.unary(.copy, .input(0)), .binary(op, .register(0), .register(0)),
                                                    .binary(.mul, .register(1), .scalar(1))], { f(x[$0], x[$0]) * 1 }))
        }
        for twin in VectorInstructions.allCases where twin.available {
            for (name, instructions, definition) in cases {
                let program = ElementwiseProgram(instructions: instructions)
                var out = [Float](repeating: 7, count: count)
                let (inputs, registers) = (KernelBuffers([x, y, s]), KernelBuffers(registersFor: program))
                runElementwise(&out, inputs.table, program, count: count, registers: registers.buffers[0], instructions: twin)
                let wrong = (0..<count).filter { out[$0].bitPattern != definition($0).bitPattern
                                                 && !(out[$0].isNaN && definition($0).isNaN) }
                #expect(wrong.isEmpty, "\(twin.rawValue) \(name): \(wrong.count) elements differ, first at \(wrong.first ?? -1)")
            }
        }
    }

    /// A program of three outputs, where later instructions read an earlier output back
    /// (from the output buffer, written earlier in the same chunk), on every twin.
    @Test func programWithSeveralOutputs() {
        let shape = [2, 3, 13, 13]
        let (c, plane) = (shape[1], shape[2] * shape[3])
        let count = shape.reduce(1, *)
        let x = Self.random(count, seed: 15), y = Self.random(count, seed: 16), s = Self.random(c, seed: 17)
        let program = ElementwiseProgram(results: [2, 4, 5], instructions: [
            .gather(input: 2, .broadcast(from: [1, c, 1, 1], to: shape)),   // r0 = s[c]
            .binary(.mul, .input(0), .register(0)),                          // r1 = x·s
            .unary(.relu, .register(1)),                                     // out0 = relu(x·s)
            .binary(.sub, .input(1), .register(1)),                          // r3 = y − x·s
            .binary(.mul, .register(2), .register(3)),                       // out1 = out0 · r3
            .binary(.add, .register(2), .input(0)),                          // out2 = out0 + x
        ])
        for twin in VectorInstructions.allCases where twin.available {
            let outputs = KernelBuffers([[Float]](repeating: [Float](repeating: 9, count: count), count: 3))
            let (inputs, registers) = (KernelBuffers([x, y, s]), KernelBuffers(registersFor: program))
            runElementwise(outputs: outputs.buffers, inputs.table, program, count: count,
                           registers: registers.buffers[0], instructions: twin)
            let (first, second, third) = (outputs[0], outputs[1], outputs[2])
            let scaled = (0..<count).map { x[$0] * s[$0 / plane % c] }
            let out0 = scaled.map { $0 > 0 ? $0 : 0 }
            #expect(first == out0, "\(twin.rawValue): output 0")
            #expect(second == (0..<count).map { out0[$0] * (y[$0] - scaled[$0]) }, "\(twin.rawValue): output 1")
            #expect(third == (0..<count).map { out0[$0] + x[$0] }, "\(twin.rawValue): output 2")
        }
    }

    /// The direct kernel's twins on one padded image of 32-column rows: the AVX-512 twin's
    /// wide blocks accumulate each output in the AVX2 twin's order, so both give the same
    /// bits; the baseline (no FMA) agrees to rounding.
    @Test func directKernelTwinsAgree() {
        let (c, o, k, rows, columns) = (3, 6, 3, 8, 64)
        let padded = Self.random(c * (rows + 2) * (columns + 2), seed: 18)
        let filter = Self.random((o + 3) / 4 * 4 * c * k * k, seed: 19)
        var problem = rat_direct_problem(in_channels: c, out_channels: o, k: k, padded_rows: rows + 2,
                                         padded_columns: columns + 2, rows: rows, columns: columns)
        func run(_ twin: VectorInstructions) -> [Float] {
            var out = [Float](repeating: .nan, count: o * rows * columns)
            out.withUnsafeMutableBufferPointer { o in
                let planes: [UnsafeMutablePointer<Float>?] = (0..<6).map { o.baseAddress! + $0 * rows * columns }
                switch twin {
                case .avx512: rat_direct_convolve_image_avx512(planes, padded, filter, &problem)
                case .avx2: rat_direct_convolve_image_avx2(planes, padded, filter, &problem)
                case .baseline: rat_direct_convolve_image_portable(planes, padded, filter, &problem)
                }
            }
            return out
        }
        let baseline = run(.baseline)
        #expect(!baseline.contains { $0.isNaN })
        if VectorInstructions.avx2.available {
            #expect(Self.maxRelativeDifference(run(.avx2), baseline) < 1e-5)
            if VectorInstructions.avx512.available { #expect(run(.avx512) == run(.avx2), "AVX-512 and AVX2 twins differ") }
        }
    }

    /// A program summed over planes instead of stored (BatchNorm's per-channel sums, a
    /// per-example sum, a full sum), with a per-channel broadcast inside, on every twin,
    /// against sums in Double.
    @Test(arguments: [([3, 5, 16, 20], [0, 2, 3]), ([4, 3, 10, 30], [1, 2, 3]), ([2, 3, 9, 15], [0, 1, 2, 3])])
    func summedProgram(_ shape: [Int], _ axes: [Int]) {
        let (c, plane) = (shape[1], shape[2] * shape[3])
        let count = shape.reduce(1, *)
        let x = Self.random(count, seed: 20), y = Self.random(count, seed: 21), s = Self.random(c, seed: 22)
        let (kept, walkPlane): (Int, Int) = axes == [0, 2, 3] ? (c, plane) : axes == [1, 2, 3] ? (shape[0], c * plane) : (1, count)
        let program = ElementwiseProgram(instructions: [
            .gather(input: 2, .broadcast(from: [1, c, 1, 1], to: shape)),
            .binary(.sub, .input(0), .register(0)),
            .binary(.mul, .register(1), .input(1)),
        ], summed: (walkPlane, kept))
        var expected = [Double](repeating: 0, count: kept)
        for i in 0..<count { expected[i / walkPlane % kept] += Double(x[i] - s[i / plane % c]) * Double(y[i] ) }
        for twin in VectorInstructions.allCases where twin.available {
            var out = [Float](repeating: .nan, count: kept)
            let (inputs, registers) = (KernelBuffers([x, y, s]), KernelBuffers(registersFor: program))
            sumElementwise(&out, inputs.table, program, count: count, registers: registers.buffers[0], instructions: twin)
            let scale = expected.map(abs).max()!
            let worst = zip(out, expected).map { abs(Double($0) - $1) }.max()!
            #expect(worst <= 1e-5 * scale, "\(twin.rawValue) \(shape) over \(axes): off by \(worst) (scale \(scale))")
        }
    }
}

/// Arrays copied into buffers the kernels read and write, and a table of their addresses
/// (what the executor binds for a fused step). Freed with the object.
final class KernelBuffers {
    let buffers: [UnsafeMutablePointer<Float>]
    let table: UnsafeMutablePointer<UnsafePointer<Float>>
    private let counts: [Int]

    init(_ arrays: [[Float]]) {
        counts = arrays.map(\.count)
        buffers = arrays.map { array in
            let buffer = UnsafeMutablePointer<Float>.allocate(capacity: max(1, array.count))
            buffer.initialize(from: array, count: array.count)
            return buffer
        }
        table = .allocate(capacity: max(1, buffers.count))
        for (k, buffer) in buffers.enumerated() { table[k] = UnsafePointer(buffer) }
    }

    /// Zeroed scratch for `program` on every worker.
    convenience init(registersFor program: ElementwiseProgram) {
        self.init([[Float](repeating: 0, count: workerCount * program.registerElements)])
    }

    deinit {
        buffers.forEach { $0.deallocate() }
        table.deallocate()
    }

    subscript(k: Int) -> [Float] { Array(UnsafeBufferPointer(start: buffers[k], count: counts[k])) }
}
