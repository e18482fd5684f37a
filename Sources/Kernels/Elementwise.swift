import Foundation

// A fused elementwise kernel: a small program of per-element operations evaluated over
// chunks of `chunkSize` elements, each instruction a tight loop over one chunk. Chains of
// elementwise primitives (BatchNorm's normalize–scale–shift, the softmax and KL algebra,
// the derivative streams of nested forward mode) run as one pass over memory instead of
// one pass per primitive.

public enum UnaryOpcode: Sendable { case neg, exp, log, sqrt, relu, step, sign, copy }
public enum BinaryOpcode: Sendable { case add, sub, mul, div, maximum, minimum, equal }

/// Where an instruction reads an operand.
public enum ElementwiseSource: Hashable, Sendable {
    /// Input k of the program, a dense buffer of the output's shape.
    case input(Int)
    /// The result of an earlier instruction.
    case register(Int)
    /// A splat constant.
    case scalar(Float)
}

public enum ElementwiseInstruction: Hashable, Sendable {
    /// Input k read through a broadcast layout (e.g. per-channel statistics).
    case gather(input: Int, StridedLayout)
    case unary(UnaryOpcode, ElementwiseSource)
    case binary(BinaryOpcode, ElementwiseSource, ElementwiseSource)

    var sources: [ElementwiseSource] {
        switch self {
        case .gather: []
        case .unary(_, let a): [a]
        case .binary(_, let a, let b): [a, b]
        }
    }
}

/// Instructions in evaluation order; the last one's result is the output.
public struct ElementwiseProgram: Hashable, Sendable {
    public let instructions: [ElementwiseInstruction]
    /// The same instructions without payloads that hold arrays, and the gather layouts
    /// beside them: the interpreter walks these per chunk, and walking the enum retained
    /// and released each layout's arrays on every chunk (~4 % of a training step).
    fileprivate let lowered: [LoweredInstruction]
    fileprivate let layouts: [StridedLayout]
    /// The register each instruction writes (-1 for the last, which writes the output).
    fileprivate let destinations: [Int]
    fileprivate let registerCount: Int

    public init(instructions: [ElementwiseInstruction]) {
        self.instructions = instructions
        var layouts = [StridedLayout]()
        // Registers by liveness: an instruction's result takes a register freed by a value
        // read for the last time (possibly by this very instruction: the loops read element
        // i before writing it). Long programs (nested forward mode through BatchNorm makes
        // 17 instructions) then keep a few chunks in L1 instead of one chunk per instruction.
        var lastRead = [Int](repeating: -1, count: instructions.count)
        for (i, instruction) in instructions.enumerated() {
            for case .register(let r) in instruction.sources { lastRead[r] = i }
        }
        var physical = [Int](repeating: -1, count: instructions.count)
        var free = [Int](), used = 0
        func remap(_ source: ElementwiseSource) -> ElementwiseSource {
            if case .register(let r) = source { return .register(physical[r]) }
            return source
        }
        lowered = instructions.enumerated().map { i, instruction in
            let reads = Set(instruction.sources.compactMap { if case .register(let r) = $0 { r } else { nil } })
            let lowered: LoweredInstruction = switch instruction {
            case .gather(let k, let layout):
                { layouts.append(layout); return .gather(input: k, layout: layouts.count - 1) }()
            case .unary(let op, let a): .unary(op, remap(a))
            case .binary(let op, let a, let b): .binary(op, remap(a), remap(b))
            }
            for r in reads where lastRead[r] == i { free.append(physical[r]) }
            if i < instructions.count - 1 {   // the last result goes to the output
                if let reg = free.popLast() { physical[i] = reg } else { physical[i] = used; used += 1 }
            }
            return lowered
        }
        destinations = physical
        registerCount = used
        self.layouts = layouts
    }

    public static func == (a: Self, b: Self) -> Bool { a.instructions == b.instructions }
    public func hash(into hasher: inout Hasher) { hasher.combine(instructions) }

    public static let chunkSize = 512
    /// Floats between consecutive registers: a chunk plus 64 bytes. At exactly 2 KB apart,
    /// every other register shared its address bits below 4 KB with the one written next,
    /// and the loads waited on those stores (4K aliasing): a 16-instruction program ran ~2×
    /// slower.
    public static let registerStride = chunkSize + 16
    /// Scratch floats per worker.
    public var registerElements: Int { max(1, registerCount) * ElementwiseProgram.registerStride }
}

/// An instruction as the interpreter sees it: plain values only.
private enum LoweredInstruction {
    case gather(input: Int, layout: Int)
    case unary(UnaryOpcode, ElementwiseSource)
    case binary(BinaryOpcode, ElementwiseSource, ElementwiseSource)
}

private enum Operand {
    case pointer(UnsafePointer<Float>)
    case scalar(Float)
}

/// out[count] ← program(inputs), on both cores. `registers` holds
/// `workerCount · program.registerElements` floats.
public func runElementwise(_ out: UnsafeMutablePointer<Float>, _ inputs: UnsafePointer<UnsafePointer<Float>>,
                           _ program: ElementwiseProgram, count: Int, registers: UnsafeMutablePointer<Float>) {
    let registersPerWorker = program.registerElements
    program.lowered.withUnsafeBufferPointer { instructions in
        program.layouts.withUnsafeBufferPointer { layouts in
            program.destinations.withUnsafeBufferPointer { destinations in
                let code = LoweredCode(instructions: instructions, layouts: layouts, destinations: destinations,
                                       registerCount: max(1, program.registerCount))
                parallelRanges(count) { range, worker in
                    let chunk = ElementwiseProgram.chunkSize
                    let regs = registers + worker * registersPerWorker
                    var start = range.lowerBound
                    while start < range.upperBound {
                        let n = min(chunk, range.upperBound - start)
                        runChunk(out + start, inputs, code, start: start, count: n, registers: regs)
                        start += n
                    }
                }
            }
        }
    }
}

private struct LoweredCode {
    var instructions: UnsafeBufferPointer<LoweredInstruction>
    var layouts: UnsafeBufferPointer<StridedLayout>
    var destinations: UnsafeBufferPointer<Int>
    var registerCount: Int
}

private func runChunk(_ out: UnsafeMutablePointer<Float>, _ inputs: UnsafePointer<UnsafePointer<Float>>,
                      _ code: LoweredCode, start: Int, count n: Int, registers: UnsafeMutablePointer<Float>) {
    // A broadcast whose chunk reads one source element (a per-channel statistic over a
    // plane of ≥ 512 values) is kept as a scalar instead of filling a register with it.
    withUnsafeTemporaryAllocation(of: Float?.self, capacity: code.registerCount) { scalarRegisters in
        func resolve(_ s: ElementwiseSource) -> Operand {
            switch s {
            case .input(let k): .pointer(inputs[k] + start)
            case .register(let r):
                if let v = scalarRegisters[r] { .scalar(v) } else { .pointer(UnsafePointer(registers + r * ElementwiseProgram.registerStride)) }
            case .scalar(let v): .scalar(v)
            }
        }
        for i in code.instructions.indices {
            let register = code.destinations[i]   // -1: the output
            let dst = register < 0 ? out : registers + register * ElementwiseProgram.registerStride
            // Sources are resolved before the destination's scalar flag changes: an
            // instruction may write the register it reads.
            switch code.instructions[i] {
            case .gather(let k, let layout):
                if register >= 0, let offset = code.layouts[layout].singleSource(start: start, count: n) {
                    scalarRegisters[register] = inputs[k][offset]
                    continue
                }
                gather(dst, inputs[k], code.layouts[layout], start: start, count: n)
            case .unary(let op, let a):
                switch resolve(a) {
                case .pointer(let x): unary(op, dst, x, n)
                case .scalar(let v): dst.update(repeating: unaryScalar(op, v), count: n)
                }
            case .binary(let op, let a, let b):
                binary(op, dst, resolve(a), resolve(b), n)
            }
            if register >= 0 { scalarRegisters[register] = nil }
        }
    }
}

// The loops run 8 lanes at a time through SIMD8 explicitly: written as plain loops over
// pointers that may alias (a register can be an operand and the destination), LLVM kept
// them scalar, and a 16-instruction program ran at about one element per cycle.

@inline(__always)
private func map(_ d: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ n: Int,
                 _ f: (Float) -> Float, _ v: (SIMD8<Float>) -> SIMD8<Float>) {
    var i = 0
    while i + 8 <= n { store8(v(load8(x + i)), d + i); i += 8 }
    while i < n { d[i] = f(x[i]); i += 1 }
}

@inline(__always)
private func map(_ d: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ n: Int, _ f: (Float) -> Float) {
    for i in 0..<n { d[i] = f(x[i]) }
}

private func unary(_ op: UnaryOpcode, _ d: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ n: Int) {
    let (zero, one) = (SIMD8<Float>(repeating: 0), SIMD8<Float>(repeating: 1))
    switch op {
    case .neg: map(d, x, n, { -$0 }, { -$0 })
    case .exp: map(d, x, n) { Foundation.exp($0) }
    case .log: map(d, x, n) { Foundation.log($0) }
    case .sqrt: map(d, x, n, { $0.squareRoot() }, { $0.squareRoot() })
    case .relu: map(d, x, n, { $0 > 0 ? $0 : 0 }, { zero.replacing(with: $0, where: $0 .> zero) })
    case .step: map(d, x, n, { $0 > 0 ? 1 : 0 }, { zero.replacing(with: one, where: $0 .> zero) })
    case .sign: map(d, x, n, { $0 > 0 ? 1 : ($0 < 0 ? -1 : 0) },
                    { zero.replacing(with: one, where: $0 .> zero).replacing(with: -one, where: $0 .< zero) })
    case .copy: d.update(from: x, count: n)
    }
}

private func unaryScalar(_ op: UnaryOpcode, _ v: Float) -> Float {
    withUnsafeTemporaryAllocation(of: Float.self, capacity: 2) { b in
        b[0] = v
        unary(op, b.baseAddress! + 1, b.baseAddress!, 1)
        return b[1]
    }
}

@inline(__always)
private func zipMap(_ d: UnsafeMutablePointer<Float>, _ a: Operand, _ b: Operand, _ n: Int,
                    _ f: (Float, Float) -> Float, _ v: (SIMD8<Float>, SIMD8<Float>) -> SIMD8<Float>) {
    var i = 0
    switch (a, b) {
    case let (.pointer(x), .pointer(y)):
        while i + 8 <= n { store8(v(load8(x + i), load8(y + i)), d + i); i += 8 }
        while i < n { d[i] = f(x[i], y[i]); i += 1 }
    case let (.pointer(x), .scalar(s)):
        let sv = SIMD8(repeating: s)
        while i + 8 <= n { store8(v(load8(x + i), sv), d + i); i += 8 }
        while i < n { d[i] = f(x[i], s); i += 1 }
    case let (.scalar(s), .pointer(y)):
        let sv = SIMD8(repeating: s)
        while i + 8 <= n { store8(v(sv, load8(y + i)), d + i); i += 8 }
        while i < n { d[i] = f(s, y[i]); i += 1 }
    case let (.scalar(s), .scalar(t)):
        d.update(repeating: f(s, t), count: n)
    }
}

private func binary(_ op: BinaryOpcode, _ d: UnsafeMutablePointer<Float>, _ a: Operand, _ b: Operand, _ n: Int) {
    let (zero, one) = (SIMD8<Float>(repeating: 0), SIMD8<Float>(repeating: 1))
    switch op {
    case .add: zipMap(d, a, b, n, +, +)
    case .sub: zipMap(d, a, b, n, -, -)
    case .mul: zipMap(d, a, b, n, *, *)
    case .div: zipMap(d, a, b, n, /, /)
    // Same selections as the scalar forms, NaN included (a comparison with NaN is false).
    case .maximum: zipMap(d, a, b, n, { $0 >= $1 ? $0 : $1 }, { $1.replacing(with: $0, where: $0 .>= $1) })
    case .minimum: zipMap(d, a, b, n, { $0 <= $1 ? $0 : $1 }, { $1.replacing(with: $0, where: $0 .<= $1) })
    case .equal: zipMap(d, a, b, n, { $0 == $1 ? 1 : 0 }, { zero.replacing(with: one, where: $0 .== $1) })
    }
}

/// out ← value everywhere.
public func fill(_ out: UnsafeMutablePointer<Float>, _ value: Float, count: Int) {
    out.update(repeating: value, count: count)
}
