// Bilinear primitives: matmul and the convolution family. Their JVP follows from
// bilinearity (op on each tangent, summed); their VJP is the transpose in each operand.
// The three convolution ops are closed under transposition, so nesting never needs
// anything new:
//   y  = conv2d(x, w)            ∂x ← inputGrad(ȳ, w)     ∂w ← filterGrad(x, ȳ)
//   dx = inputGrad(dy, w)        ∂dy ← conv2d(d̄x, w)      ∂w ← filterGrad(d̄x, dy)
//   dw = filterGrad(x, dy)       ∂x ← inputGrad(dy, d̄w)   ∂dy ← conv2d(x, d̄w)

/// y = op(A)·op(B).
func matmulRule(_ ta: Bool, _ tb: Bool) -> Rule {
    Rule(
        reference: { x, _ in referenceMatmul(x[0], x[1], transposeA: ta, transposeB: tb) },
        jvp: { d in
            let (a, b) = (d.operands[0], d.operands[1])
            return addTangents(
                d.tangents[0].map { matmul($0, b, transposeA: ta, transposeB: tb) },
                d.tangents[1].map { matmul(a, $0, transposeA: ta, transposeB: tb) })
        },
        vjp: { d in
            let (a, b, g) = (d.operands[0], d.operands[1], d.cotangent)
            // ∂op(A) = G·op(B)ᵀ, ∂op(B) = op(A)ᵀ·G, transposed back where op was a transpose.
            let da = ta ? matmul(b, g, transposeA: tb, transposeB: true)
                        : matmul(g, b, transposeA: false, transposeB: !tb)
            let db = tb ? matmul(g, a, transposeA: true, transposeB: ta)
                        : matmul(a, g, transposeA: !ta, transposeB: false)
            return [da, db]
        })
}

func conv2dRule(_ c: Conv2D) -> Rule {
    Rule(
        reference: { x, node in referenceConv2d(x[0], x[1], c, outputShape: node.shape) },
        jvp: { d in
            let (x, w) = (d.operands[0], d.operands[1])
            return addTangents(d.tangents[0].map { conv2d($0, w, c) },
                               d.tangents[1].map { conv2d(x, $0, c) })
        },
        vjp: { d in
            let (x, w, g) = (d.operands[0], d.operands[1], d.cotangent)
            return [conv2dInputGrad(g, w, c, inputShape: x.shape),
                    conv2dFilterGrad(x, g, c, filterShape: w.shape)]
        })
}

func conv2dInputGradRule(_ c: Conv2D) -> Rule {
    Rule(
        reference: { x, node in referenceConv2dInputGrad(x[0], x[1], c, inputShape: node.shape) },
        jvp: { d in
            let (dy, w, shape) = (d.operands[0], d.operands[1], d.output.shape)
            return addTangents(d.tangents[0].map { conv2dInputGrad($0, w, c, inputShape: shape) },
                               d.tangents[1].map { conv2dInputGrad(dy, $0, c, inputShape: shape) })
        },
        vjp: { d in
            let (dy, w, g) = (d.operands[0], d.operands[1], d.cotangent)
            return [conv2d(g, w, c),
                    conv2dFilterGrad(g, dy, c, filterShape: w.shape)]
        })
}

func conv2dFilterGradRule(_ c: Conv2D) -> Rule {
    Rule(
        reference: { x, node in referenceConv2dFilterGrad(x[0], x[1], c, filterShape: node.shape) },
        jvp: { d in
            let (x, dy, shape) = (d.operands[0], d.operands[1], d.output.shape)
            return addTangents(d.tangents[0].map { conv2dFilterGrad($0, dy, c, filterShape: shape) },
                               d.tangents[1].map { conv2dFilterGrad(x, $0, c, filterShape: shape) })
        },
        vjp: { d in
            let (x, dy, g) = (d.operands[0], d.operands[1], d.cotangent)
            return [conv2dInputGrad(dy, g, c, inputShape: x.shape),
                    conv2d(x, g, c)]
        })
}
