import Graph

/// A network: a function from input images x[N,C,H,W] in [0, 1] to logits [N, classes],
/// declaring its parameters in the scope as it goes.
public protocol Model: Sendable {
    var name: String { get }
    func logits(_ x: Tensor, _ scope: Scope) -> Tensor
}

/// The forward graph of one model on one batch shape, with what the caller needs to feed it.
public struct ForwardGraph {
    public var graph: Graph            // inputs: "input" [N,C,H,W], parameters, buffers (eval); output: logits [N,K]
    public var parameters: [ParameterInfo]
    public var buffers: [BufferInfo]
}

extension Model {
    public func forwardGraph(inputShape: [Int], mode: NormalizationMode) -> ForwardGraph {
        let builder = GraphBuilder()
        let scope = Scope(builder: builder, mode: mode)
        let x = builder.input("input", shape: inputShape)
        let y = logits(x, scope)
        return ForwardGraph(graph: builder.finish([y]), parameters: scope.parameters, buffers: scope.buffers)
    }

    /// Parameter declarations for an input shape (runs shape inference only).
    public func parameters(inputShape: [Int]) -> [ParameterInfo] {
        forwardGraph(inputShape: inputShape, mode: .eval).parameters
    }
}
