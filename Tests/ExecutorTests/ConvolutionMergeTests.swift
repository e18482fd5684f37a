import Executor
import Graph
import Models
import Planner
import Testing

/// The planner's convolution merge: a merged plan computes what the unmerged one does.
@Suite struct ConvolutionMerge {
    /// conv(x, w), conv(x, u) (shared input) and inputGrad(dy, w), inputGrad(dy, v) (shared
    /// output gradient, filters of different input widths), as J·u and its reverse make them.
    static func sharedOperandGraph(stride: Int) -> Graph {
        let b = GraphBuilder()
        let c = Conv2D(stride: stride, padding: 1)
        let x = b.input("x", shape: [3, 4, 9, 9])
        let w = b.input("w", shape: [6, 4, 3, 3]), u = b.input("u", shape: [5, 4, 3, 3])
        let y = conv2d(x, w, c), yu = conv2d(x, u, c)
        let dy = b.input("dy", shape: y.shape)
        let v = b.input("v", shape: [6, 2, 3, 3])
        let dx = conv2dInputGrad(dy, w, c, inputShape: [3, 4, 9, 9])
        let dxv = conv2dInputGrad(dy, v, c, inputShape: [3, 2, 9, 9])
        return b.finish([y, yu, dx * 2, dxv])
    }

    static func mergedSteps(_ p: Plan) -> Int {
        p.steps.filter { if case .mergedConvolution = $0.operation { true } else { false } }.count
    }

    static func groupSteps(_ p: Plan) -> Int {
        p.steps.filter { if case .convolutionGroup = $0.operation { true } else { false } }.count
    }

    /// The sums forward mode over the weights makes at one layer (y, ẏ, ÿ of h, ḣ, ḧ), and
    /// the sums of input gradients reverse mode makes through them. 6 images of 32×32 run
    /// in two blocks (4 + 2), so the partial last block is covered.
    static func sumGraph(stride: Int) -> Graph {
        let b = GraphBuilder()
        let c = Conv2D(stride: stride, padding: 1)
        let xShape = [6, 4, 32, 32]
        let h = b.input("h", shape: xShape), hDot = b.input("hDot", shape: xShape), hDDot = b.input("hDDot", shape: xShape)
        let w = b.input("w", shape: [5, 4, 3, 3]), u = b.input("u", shape: [5, 4, 3, 3])
        let y = conv2d(h, w, c)
        let yDot = conv2d(hDot, w, c) + conv2d(h, u, c)
        let twice = conv2d(hDot, u, c)
        let yDDot = (conv2d(hDDot, w, c) + twice) + twice
        let g = b.input("g", shape: y.shape), gDot = b.input("gDot", shape: y.shape), gDDot = b.input("gDDot", shape: y.shape)
        let dh = conv2dInputGrad(g, w, c, inputShape: xShape) + conv2dInputGrad(gDot, u, c, inputShape: xShape)
        let dhDot = conv2dInputGrad(gDot, w, c, inputShape: xShape) - conv2dInputGrad(gDDot, u, c, inputShape: xShape)
        let dhDDot = conv2dInputGrad(gDDot, w, c, inputShape: xShape)
        return b.finish([y, yDot * 3, yDDot, dh, dhDot, dhDDot])
    }

    @Test(arguments: [1, 2])
    func sumsOfConvolutionsRunAsGroupsAndMatchTheReference(stride: Int) throws {
        let graph = Self.sumGraph(stride: stride)
        let grouped = plan(graph)
        #expect(Self.groupSteps(grouped) == 2, "one forward group, one transpose group")
        #expect(!grouped.steps.contains { $0.kind == .add || $0.kind == .sub }, "the sums happen inside the groups' gemms")
        #expect(Self.groupSteps(plan(graph, mergeConvolutions: false)) == 0)
        #expect(try worstParityError(graph) <= 1e-5)
        let (merged, unmerged) = (try Self.outputs(graph, merge: true), try Self.outputs(graph, merge: false))
        for (a, b) in zip(merged, unmerged) { #expect(relativeError(a, b.map(Double.init)) <= 1e-6) }
    }

    static func outputs(_ graph: Graph, merge: Bool, seed: UInt64 = 3) throws -> [[Float]] {
        let feeds = randomFeeds(graph, seed: seed, range: ModelParity.range)
        let executor = Executor(plan: plan(graph, mergeConvolutions: merge))
        return try executor.run(feeding: feeds.mapValues { ($0.shape, $0.data.map { Float($0) }) })
    }

    @Test(arguments: [1, 2])
    func sharedOperandsMergeAndMatchTheReference(stride: Int) throws {
        let graph = Self.sharedOperandGraph(stride: stride)
        #expect(Self.mergedSteps(plan(graph)) == 2)
        #expect(Self.mergedSteps(plan(graph, mergeConvolutions: false)) == 0)
        #expect(try worstParityError(graph) <= 1e-5)
        let (merged, unmerged) = (try Self.outputs(graph, merge: true), try Self.outputs(graph, merge: false))
        for (a, b) in zip(merged, unmerged) { #expect(relativeError(a, b.map(Double.init)) <= 1e-6) }
    }

    /// The whole small-cnn Taylor gradient graph (reverse over forward over forward).
    @Test func smallCNNTaylorGradientsMergedEqualUnmerged() throws {
        let graph = ModelParity.taylorGradientGraph(ModelParity.forward(.train))
        let compiled = plan(graph)
        #expect(Self.mergedSteps(compiled) >= 1, "the first layer's conv(x, w), conv(x, u)")
        #expect(Self.groupSteps(compiled) >= 4, "the sums of J·u and uᵀHu, forward and transposed, per later layer")
        let (merged, unmerged) = (try Self.outputs(graph, merge: true), try Self.outputs(graph, merge: false))
        for (a, b) in zip(merged, unmerged) { #expect(relativeError(a, b.map(Double.init)) <= 1e-5) }
    }

    /// Groups and merges through residual blocks (1×1 stride-2 shortcuts, stride-2 3×3,
    /// sums of branches): PreAct ResNet-18's Taylor gradient graph at a small input computes
    /// the same with and without the passes.
    @Test func resNetTaylorGradientsGroupedEqualUngrouped() throws {
        let forward = PreActResNet18(classes: 10).forwardGraph(inputShape: [2, 3, 16, 16], mode: .train)
        let graph = ModelParity.taylorGradientGraph(forward)
        #expect(Self.groupSteps(plan(graph)) >= 8)
        let (grouped, plain) = (try Self.outputs(graph, merge: true), try Self.outputs(graph, merge: false))
        var worst = 0.0
        for (a, b) in zip(grouped, plain) { worst = max(worst, relativeError(a, b.map(Double.init))) }
        #expect(worst <= 1e-4, "relative difference \(worst)")
    }

    /// Depthwise convolutions (groups > 1) are never grouped or merged; MobileNetV2's
    /// pointwise ones are. (Its values are not compared: with weights and noise drawn from
    /// ±1, 50 layers of train-mode BatchNorm on 2 images make the Taylor terms so large that
    /// Float32 and the Double reference disagree whatever the plan.)
    @Test func depthwiseConvolutionsStayAlone() {
        let forward = MobileNetV2(classes: 10).forwardGraph(inputShape: [2, 3, 16, 16], mode: .train)
        let compiled = plan(ModelParity.taylorGradientGraph(forward))
        var grouped = 0
        for step in compiled.steps {
            switch step.operation {
            case .convolutionGroup(let g):
                grouped += 1
                if case .conv2d(let c) = g.op { #expect(c.groups == 1) }
                if case .conv2dInputGrad(let c) = g.op { #expect(c.groups == 1) }
            case .mergedConvolution(let op):
                if case .conv2d(let c) = op { #expect(c.groups == 1) }
                if case .conv2dInputGrad(let c) = op { #expect(c.groups == 1) }
            default:
                break
            }
        }
        #expect(grouped >= 8)
    }
}
