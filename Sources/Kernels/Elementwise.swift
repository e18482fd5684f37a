import Foundation
import CElementwise

// A fused elementwise kernel: a small program of per-element operations evaluated over
// chunks of `chunkSize` elements, each instruction a tight loop over one chunk (the
// interpreter is C, Sources/System/CElementwise, built for three vector widths). Chains of
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

/// Instructions in evaluation order. Output k is the result of instruction `results[k]`
/// (by default one output, the last instruction's).
public struct ElementwiseProgram: Hashable, Sendable {
    public let instructions: [ElementwiseInstruction]
    public let results: [Int]
    /// The same program as the C interpreter reads it (CElementwise), with registers
    /// assigned and the gather layouts beside it.
    fileprivate let lowered: [rat_elementwise_instruction]
    fileprivate let layouts: [rat_strided_layout]
    fileprivate let registerCount: Int
    /// Chunks never cross a multiple of this many elements (0: no constraint): the constant
    /// run of the program's broadcasts, when they share one of at least `minimumScalarRun`
    /// elements, so that every broadcast reads a single value per chunk and stays a scalar
    /// instead of being filled into a register (a chunk of 512 straddled two 16×16 planes).
    fileprivate let segmentRun: Int
    /// For a program whose output is summed instead of stored (`sumElementwise`): the input
    /// walked as [outer, kept, plane] with the outer and plane axes reduced.
    public let summed: (plane: Int, kept: Int)?

    /// `summed`: the program's one output is reduced to `kept` sums over planes of `plane`
    /// elements (the per-channel sums of BatchNorm: plane H·W, kept C).
    public init(results: [Int]? = nil, instructions: [ElementwiseInstruction], summed: (plane: Int, kept: Int)? = nil) {
        let results = results ?? [instructions.count - 1]
        precondition(summed == nil || (results.count == 1 && summed!.plane >= 1 && summed!.kept >= 1), "a summed program has one output")
        self.summed = summed
        precondition(!results.isEmpty && Set(results).count == results.count
                     && results.allSatisfy { instructions.indices.contains($0) }, "bad program results \(results)")
        self.instructions = instructions
        self.results = results
        var layouts = [StridedLayout]()
        let outputOf = Dictionary(uniqueKeysWithValues: results.enumerated().map { ($1, $0) })
        // Registers by liveness: an instruction's result takes a register freed by a value
        // read for the last time (possibly by this very instruction: the loops read element
        // i before writing it). Long programs (nested forward mode through BatchNorm makes
        // 17 instructions) then keep a few chunks in L1 instead of one chunk per instruction.
        // Results are written to their outputs and read back from there (in L1) by later
        // instructions.
        var lastRead = [Int](repeating: -1, count: instructions.count)
        for (i, instruction) in instructions.enumerated() {
            for case .register(let r) in instruction.sources { lastRead[r] = i }
        }
        var physical = [Int](repeating: -1, count: instructions.count)
        var free = [Int](), used = 0
        func source(_ s: ElementwiseSource) -> rat_elementwise_source {
            switch s {
            case .input(let k): rat_elementwise_source(kind: Int32(RAT_EW_INPUT.rawValue), index: Int32(k), value: 0)
            case .register(let r):
                if let k = outputOf[r] { rat_elementwise_source(kind: Int32(RAT_EW_OUTPUT.rawValue), index: Int32(k), value: 0) }
                else { rat_elementwise_source(kind: Int32(RAT_EW_REGISTER.rawValue), index: Int32(physical[r]), value: 0) }
            case .scalar(let v): rat_elementwise_source(kind: Int32(RAT_EW_SCALAR.rawValue), index: 0, value: v)
            }
        }
        let none = rat_elementwise_source(kind: Int32(RAT_EW_SCALAR.rawValue), index: 0, value: 0)
        lowered = instructions.enumerated().map { i, instruction in
            var lowered = rat_elementwise_instruction(opcode: 0, destination: -1, a: none, b: none, layout: 0)
            switch instruction {
            case .gather(let k, let layout):
                layouts.append(layout)
                lowered.opcode = Int32(RAT_EW_GATHER.rawValue)
                lowered.a = rat_elementwise_source(kind: Int32(RAT_EW_INPUT.rawValue), index: Int32(k), value: 0)
                lowered.layout = Int32(layouts.count - 1)
            case .unary(let op, let a):
                (lowered.opcode, lowered.a) = (op.opcode, source(a))
            case .binary(let op, let a, let b):
                (lowered.opcode, lowered.a, lowered.b) = (op.opcode, source(a), source(b))
            }
            let reads = Set(instruction.sources.compactMap { if case .register(let r) = $0, outputOf[r] == nil { r } else { nil } })
            for r in reads where lastRead[r] == i { free.append(physical[r]) }
            if let k = outputOf[i] {
                lowered.destination = Int32(-1 - k)
            } else {
                if let reg = free.popLast() { physical[i] = reg } else { physical[i] = used; used += 1 }
                lowered.destination = Int32(physical[i])
            }
            return lowered
        }
        registerCount = used
        self.layouts = layouts.map(\.strided)
        let runs = layouts.map(\.constantRun)
        var segment = 0
        if let shortest = runs.compactMap({ $0 }).min(), shortest >= Self.minimumScalarRun,
           runs.allSatisfy({ $0.map { $0 % shortest == 0 } ?? false }) {
            segment = shortest
        }
        // A summed program's chunks must not cross planes: its segment divides the plane
        // (the broadcasts' run when that divides it, else the plane itself).
        if let plane = summed?.plane, segment == 0 || plane % segment != 0 { segment = plane }
        segmentRun = segment
    }

    public static func == (a: Self, b: Self) -> Bool {
        a.instructions == b.instructions && a.results == b.results && a.summed?.plane == b.summed?.plane && a.summed?.kept == b.summed?.kept
    }
    public func hash(into hasher: inout Hasher) {
        hasher.combine(instructions); hasher.combine(results); hasher.combine(summed?.plane); hasher.combine(summed?.kept)
    }

    public static let chunkSize = 512
    /// Shorter constant runs (8×8 planes) are filled into registers rather than cutting
    /// chunks that short, where each instruction's dispatch would cover only 64 elements.
    public static let minimumScalarRun = 128
    /// Floats between consecutive registers: a chunk plus 64 bytes. At exactly 2 KB apart,
    /// every other register shared its address bits below 4 KB with the one written next,
    /// and the loads waited on those stores (4K aliasing): a 16-instruction program ran ~2×
    /// slower.
    public static let registerStride = chunkSize + 16
    /// Scratch floats per worker: the registers, and for a summed program one more chunk (the
    /// sink) and the worker's partial sums.
    public var registerElements: Int {
        let registers = max(1, registerCount) * ElementwiseProgram.registerStride
        guard let summed else { return registers }
        return registers + ElementwiseProgram.registerStride + (summed.kept + 15) / 16 * 16
    }
}

private extension UnaryOpcode {
    var opcode: Int32 {
        let code = switch self {
        case .neg: RAT_EW_NEG
        case .exp: RAT_EW_EXP
        case .log: RAT_EW_LOG
        case .sqrt: RAT_EW_SQRT
        case .relu: RAT_EW_RELU
        case .step: RAT_EW_STEP
        case .sign: RAT_EW_SIGN
        case .copy: RAT_EW_COPY
        }
        return Int32(code.rawValue)
    }
}

private extension BinaryOpcode {
    var opcode: Int32 {
        let code = switch self {
        case .add: RAT_EW_ADD
        case .sub: RAT_EW_SUB
        case .mul: RAT_EW_MUL
        case .div: RAT_EW_DIV
        case .maximum: RAT_EW_MAXIMUM
        case .minimum: RAT_EW_MINIMUM
        case .equal: RAT_EW_EQUAL
        }
        return Int32(code.rawValue)
    }
}

/// out[count] ← program(inputs), on both cores. `registers` holds
/// `workerCount · program.registerElements` floats. `instructions` picks a twin (tests run
/// each one the CPU has); the executor runs the process's choice.
public func runElementwise(_ out: UnsafeMutablePointer<Float>, _ inputs: UnsafePointer<UnsafePointer<Float>>,
                           _ program: ElementwiseProgram, count: Int, registers: UnsafeMutablePointer<Float>,
                           instructions twin: VectorInstructions = kernelInstructions) {
    precondition(program.results.count == 1, "a program of \(program.results.count) outputs needs a table of them")
    withUnsafePointer(to: out) { outputs in
        runElementwise(outputs: outputs, inputs, program, count: count, registers: registers, instructions: twin)
    }
}

/// outputs[k][count] ← output k of program(inputs), for every output of the program.
public func runElementwise(outputs: UnsafePointer<UnsafeMutablePointer<Float>>, _ inputs: UnsafePointer<UnsafePointer<Float>>,
                           _ program: ElementwiseProgram, count: Int, registers: UnsafeMutablePointer<Float>,
                           instructions twin: VectorInstructions = kernelInstructions) {
    let registersPerWorker = program.registerElements
    let table = UnsafeRawPointer(inputs).assumingMemoryBound(to: UnsafePointer<Float>?.self)
    let out = UnsafeRawPointer(outputs).assumingMemoryBound(to: UnsafeMutablePointer<Float>?.self)
    program.withLowered { code in
        parallelRanges(count) { range, worker in
            let (start, end, regs) = (range.lowerBound, range.upperBound, registers + worker * registersPerWorker)
            switch twin {
            case .avx512: rat_elementwise_run_avx512(code, out, table, start, end, regs)
            case .avx2: rat_elementwise_run_avx2(code, out, table, start, end, regs)
            case .baseline: rat_elementwise_run_portable(code, out, table, start, end, regs)
            }
        }
    }
}

private extension ElementwiseProgram {
    /// The program as the C interpreter reads it, valid inside `body`.
    func withLowered(_ body: (UnsafePointer<rat_elementwise_program>) -> Void) {
        lowered.withUnsafeBufferPointer { instructions in
            layouts.withUnsafeBufferPointer { layouts in
                var code = rat_elementwise_program(
                    instructions: instructions.baseAddress, instruction_count: instructions.count,
                    layouts: layouts.baseAddress, register_count: registerCount,
                    register_stride: ElementwiseProgram.registerStride, chunk: ElementwiseProgram.chunkSize,
                    segment: segmentRun)
                withUnsafePointer(to: &code, body)
            }
        }
    }
}

/// out[kept] ← the program's output summed over planes (see `ElementwiseProgram.summed`),
/// computed over `count` input elements without storing it; on both cores, each worker
/// summing its share, the shares added in worker order.
public func sumElementwise(_ out: UnsafeMutablePointer<Float>, _ inputs: UnsafePointer<UnsafePointer<Float>>,
                           _ program: ElementwiseProgram, count: Int, registers: UnsafeMutablePointer<Float>,
                           instructions twin: VectorInstructions = kernelInstructions) {
    guard let (plane, kept) = program.summed else { preconditionFailure("the program is not a summed one") }
    let registersPerWorker = program.registerElements
    let partialOffset = registersPerWorker - (kept + 15) / 16 * 16
    let sinkOffset = partialOffset - ElementwiseProgram.registerStride
    let table = UnsafeRawPointer(inputs).assumingMemoryBound(to: UnsafePointer<Float>?.self)
    for worker in 0..<workerCount { (registers + worker * registersPerWorker + partialOffset).update(repeating: 0, count: kept) }
    program.withLowered { code in
        parallelRanges(count) { range, worker in
            let regs = registers + worker * registersPerWorker
            let (sink, partial) = (regs + sinkOffset, regs + partialOffset)
            let (start, end) = (range.lowerBound, range.upperBound)
            switch twin {
            case .avx512: rat_elementwise_sum_avx512(code, table, start, end, regs, sink, plane, kept, partial)
            case .avx2: rat_elementwise_sum_avx2(code, table, start, end, regs, sink, plane, kept, partial)
            case .baseline: rat_elementwise_sum_portable(code, table, start, end, regs, sink, plane, kept, partial)
            }
        }
    }
    // Workers that got no range left their partials at zero.
    out.update(from: registers + partialOffset, count: kept)
    for worker in 1..<workerCount {
        let partial = registers + worker * registersPerWorker + partialOffset
        for k in 0..<kept { out[k] += partial[k] }
    }
}

/// out ← value everywhere.
public func fill(_ out: UnsafeMutablePointer<Float>, _ value: Float, count: Int) {
    out.update(repeating: value, count: count)
}
