import Executor
import Graph
import Models
import Planner
import Foundation
import Testing

/// Whole-model parity on a reduced small-cnn (narrow widths, 16×16 images, batch 3) so that
/// the Double reference stays fast; the graph structure is the full one.
@Suite struct ModelParity {
    static let model = SmallCNN(classes: 10, widths: [8, 16, 16])
    static let inputShape = [3, 3, 16, 16]

    static func forward(_ mode: NormalizationMode) -> ForwardGraph {
        model.forwardGraph(inputShape: inputShape, mode: mode)
    }

    /// Outputs: logits, J·u, then (second jvp) J·u again and uᵀHu.
    static func taylorGraph(_ forward: ForwardGraph) -> Graph {
        let tangents = Dictionary(uniqueKeysWithValues: forward.parameters.map { ($0.name, "u." + $0.name) })
        return jvp(jvp(forward.graph, tangents: tangents), tangents: tangents)
    }

    /// Running variances must be positive in eval mode.
    static func range(_ name: String) -> ClosedRange<Double> {
        name.hasSuffix("running_var") ? 0.5...1.5 : (name == "input" ? 0...1 : -1...1)
    }

    @Test(arguments: [NormalizationMode.train, .eval])
    func logitsJuAndUHu(_ mode: NormalizationMode) throws {
        let graph = Self.taylorGraph(Self.forward(mode))
        #expect(graph.outputs.count == 4)
        let error = try worstParityError(graph, range: Self.range)
        #expect(error <= 1e-4, "\(mode): relative error \(error)")
    }

    /// loss = ⟨logits, r0⟩ + ⟨J·u, r1⟩ + ⟨uᵀHu, r2⟩ differentiated in the parameters:
    /// reverse over forward over forward.
    static func taylorGradientGraph(_ forward: ForwardGraph) -> Graph {
        let taylor = taylorGraph(forward)
        let builder = GraphBuilder(taylor)
        var loss: Tensor?
        for (k, output) in [0, 1, 3].enumerated() {
            let y = builder.tensor(taylor.outputs[output])
            let term = sum(y * builder.input("r\(k)", shape: y.shape))
            loss = loss.map { $0 + term } ?? term
        }
        return vjp(builder.finish([loss!]), wrt: forward.parameters.map(\.name))
    }

    @Test func parameterGradientsThroughTheTaylorTerms() throws {
        let graph = Self.taylorGradientGraph(Self.forward(.train))
        let error = try worstParityError(graph, range: Self.range)
        #expect(error <= 1e-4, "relative error \(error)")
    }

    @Test func planDeduplicatesAndReusesMemory() {
        let graph = Self.taylorGraph(Self.forward(.train))
        let p = plan(graph)
        let naiveFloats = graph.nodes.reduce(0) { $0 + $1.elementCount }
        #expect(p.graph.nodes.count <= graph.nodes.count)
        #expect(p.arenaFloats < naiveFloats / 2, "arena \(p.arenaFloats) floats vs \(naiveFloats) unplanned")
        #expect(p.steps.count < p.graph.nodes.count, "fusion should merge elementwise chains")
        #expect(p.flops > 0)
    }
}

@Suite struct ExecutorFeeding {
    static func graph() -> Graph {
        let b = GraphBuilder()
        let x = b.input("x", shape: [2, 3])
        return b.finish([exp(x) * x])
    }

    @Test func rejectsWrongShapesAndMissingInputs() {
        let executor = Executor(plan: plan(Self.graph()))
        #expect(throws: RunError.self) { try executor.run(feeding: ["x": ([3, 2], Array(repeating: 1, count: 6))]) }
        #expect(throws: RunError.self) { try executor.run(feeding: [:]) }
        #expect(throws: RunError.self) { try executor.inputBuffer(named: "nope") }
    }

    @Test func feedsInPlaceAndRunsRepeatedly() throws {
        let executor = Executor(plan: plan(Self.graph()))
        let x = try executor.inputBuffer(named: "x")
        for round in 0..<3 {
            for i in x.indices { x[i] = Float(i + round) / 4 }
            executor.run()
            let y = executor.outputBuffer(0)
            for i in x.indices { #expect(abs(y[i] - Foundation.exp(x[i]) * x[i]) <= 1e-5 * max(1, abs(y[i]))) }
        }
    }
}

/// Whole-model parity of the full-width PreAct ResNet-18 (every stage, projecting and
/// identity shortcuts) against the Double reference: logits and every parameter gradient
/// of ⟨logits, r⟩, train-mode BN, batch 2 of 3×32×32 images (~7 s for the naive reference).
@Suite struct ResNetParity {
    @Test func logitsAndParameterGradients() throws {
        let forward = PreActResNet18(classes: 10).forwardGraph(inputShape: [2, 3, 32, 32], mode: .train)
        let builder = GraphBuilder(forward.graph)
        let logits = builder.tensor(forward.graph.outputs[0])
        let loss = sum(logits * builder.input("r", shape: logits.shape))
        let graph = vjp(builder.finish([loss, logits]), of: 0, wrt: forward.parameters.map(\.name))
        let error = try worstParityError(graph, range: ModelParity.range)
        #expect(error <= 1e-4, "relative error \(error)")
    }
}
