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
}

/// Instructions in evaluation order; the last one's result is the output.
public struct ElementwiseProgram: Hashable, Sendable {
    public let instructions: [ElementwiseInstruction]
    /// The same instructions without payloads that hold arrays, and the gather layouts
    /// beside them: the interpreter walks these per chunk, and walking the enum retained
    /// and released each layout's arrays on every chunk (~4 % of a training step).
    fileprivate let lowered: [LoweredInstruction]
    fileprivate let layouts: [StridedLayout]

    public init(instructions: [ElementwiseInstruction]) {
        self.instructions = instructions
        var layouts = [StridedLayout]()
        lowered = instructions.map { instruction in
            switch instruction {
            case .gather(let k, let layout):
                layouts.append(layout)
                return .gather(input: k, layout: layouts.count - 1)
            case .unary(let op, let a): return .unary(op, a)
            case .binary(let op, let a, let b): return .binary(op, a, b)
            }
        }
        self.layouts = layouts
    }

    public static func == (a: Self, b: Self) -> Bool { a.instructions == b.instructions }
    public func hash(into hasher: inout Hasher) { hasher.combine(instructions) }

    public static let chunkSize = 512
    /// Scratch floats per worker.
    public var registerElements: Int { instructions.count * ElementwiseProgram.chunkSize }
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
            parallelRanges(count) { range, worker in
                let chunk = ElementwiseProgram.chunkSize
                let regs = registers + worker * registersPerWorker
                var start = range.lowerBound
                while start < range.upperBound {
                    let n = min(chunk, range.upperBound - start)
                    runChunk(out + start, inputs, instructions, layouts, start: start, count: n, registers: regs)
                    start += n
                }
            }
        }
    }
}

private func runChunk(_ out: UnsafeMutablePointer<Float>, _ inputs: UnsafePointer<UnsafePointer<Float>>,
                      _ instructions: UnsafeBufferPointer<LoweredInstruction>, _ layouts: UnsafeBufferPointer<StridedLayout>,
                      start: Int, count n: Int, registers: UnsafeMutablePointer<Float>) {
    let last = instructions.count - 1
    // A broadcast whose chunk reads one source element (a per-channel statistic over a
    // plane of ≥ 512 values) is kept as a scalar instead of filling a register with it.
    withUnsafeTemporaryAllocation(of: Float?.self, capacity: instructions.count) { scalarRegisters in
        for i in 0...last {
            let dst = i == last ? out : registers + i * ElementwiseProgram.chunkSize
            func resolve(_ s: ElementwiseSource) -> Operand {
                switch s {
                case .input(let k): .pointer(inputs[k] + start)
                case .register(let r):
                    if let v = scalarRegisters[r] { .scalar(v) } else { .pointer(UnsafePointer(registers + r * ElementwiseProgram.chunkSize)) }
                case .scalar(let v): .scalar(v)
                }
            }
            scalarRegisters[i] = nil
            switch instructions[i] {
            case .gather(let k, let layout):
                if i != last, let offset = layouts[layout].singleSource(start: start, count: n) {
                    scalarRegisters[i] = inputs[k][offset]
                } else {
                    gather(dst, inputs[k], layouts[layout], start: start, count: n)
                }
            case .unary(let op, let a):
                switch resolve(a) {
                case .pointer(let x): unary(op, dst, x, n)
                case .scalar(let v): dst.update(repeating: unaryScalar(op, v), count: n)
                }
            case .binary(let op, let a, let b):
                binary(op, dst, resolve(a), resolve(b), n)
            }
        }
    }
}

@inline(__always)
private func map(_ d: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ n: Int, _ f: (Float) -> Float) {
    for i in 0..<n { d[i] = f(x[i]) }
}

private func unary(_ op: UnaryOpcode, _ d: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ n: Int) {
    switch op {
    case .neg: map(d, x, n) { -$0 }
    case .exp: map(d, x, n) { Foundation.exp($0) }
    case .log: map(d, x, n) { Foundation.log($0) }
    case .sqrt: map(d, x, n) { $0.squareRoot() }
    case .relu: map(d, x, n) { $0 > 0 ? $0 : 0 }
    case .step: map(d, x, n) { $0 > 0 ? 1 : 0 }
    case .sign: map(d, x, n) { $0 > 0 ? 1 : ($0 < 0 ? -1 : 0) }
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
private func zipMap(_ d: UnsafeMutablePointer<Float>, _ a: Operand, _ b: Operand, _ n: Int, _ f: (Float, Float) -> Float) {
    switch (a, b) {
    case let (.pointer(x), .pointer(y)): for i in 0..<n { d[i] = f(x[i], y[i]) }
    case let (.pointer(x), .scalar(s)): for i in 0..<n { d[i] = f(x[i], s) }
    case let (.scalar(s), .pointer(y)): for i in 0..<n { d[i] = f(s, y[i]) }
    case let (.scalar(s), .scalar(t)): d.update(repeating: f(s, t), count: n)
    }
}

private func binary(_ op: BinaryOpcode, _ d: UnsafeMutablePointer<Float>, _ a: Operand, _ b: Operand, _ n: Int) {
    switch op {
    case .add: zipMap(d, a, b, n, +)
    case .sub: zipMap(d, a, b, n, -)
    case .mul: zipMap(d, a, b, n, *)
    case .div: zipMap(d, a, b, n, /)
    case .maximum: zipMap(d, a, b, n) { $0 >= $1 ? $0 : $1 }
    case .minimum: zipMap(d, a, b, n) { $0 <= $1 ? $0 : $1 }
    case .equal: zipMap(d, a, b, n) { $0 == $1 ? 1 : 0 }
    }
}

/// out ← value everywhere.
public func fill(_ out: UnsafeMutablePointer<Float>, _ value: Float, count: Int) {
    out.update(repeating: value, count: count)
}
