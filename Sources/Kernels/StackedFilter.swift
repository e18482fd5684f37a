// The filter of a channel-stacked convolution (oneDNN's stacked primitives, see
// `OneDNNConvolution.init(_:_:xChannels:yChannels:)`), built before every run from the
// graph's filters, because they change every step:
//   sum of convolutions over slots x₁, x₂ (forward group):   y = Σₜ cₜ·conv(x_slot(t), wₜ)
//       = conv([x₁; x₂], [W₁ | W₂]) with W_p = Σ_{t on slot p} cₜ·wₜ side by side along C
//   sum of input gradients over dy₁, dy₂ (transposed group):  dx = inputGrad([dy₁; dy₂], [W₁; W₂])
//       with the W_p stacked along O
//   merged convolutions of one x (or one dy): the filters stacked along O (or C), c = 1.
// Either way the stacked filter is `rows` rows, each the parts' row segments side by side:
// along C, rows = O and a part's segment is its Cₚ·K·K floats of one output channel; along
// O, rows = 1 and a part's segment is its whole Oₚ·C·K·K block.

public struct StackedFilter {
    public struct Part {
        /// Floats of this part in one row of the stacked filter.
        public var segment: Int
        /// Filters of this part, each `rows × segment` floats, and their coefficients.
        public var terms: [(filter: UnsafePointer<Float>, coefficient: Float)]

        public init(segment: Int, terms: [(filter: UnsafePointer<Float>, coefficient: Float)]) {
            (self.segment, self.terms) = (segment, terms)
        }
    }

    public var rows: Int
    public var parts: [Part]

    public init(rows: Int, parts: [Part]) {
        precondition(parts.allSatisfy { !$0.terms.isEmpty }, "a stacked filter part needs a term")
        (self.rows, self.parts) = (rows, parts)
    }

    /// Floats of the stacked filter.
    public var floats: Int { rows * parts.reduce(0) { $0 + $1.segment } }

    /// stacked[rows, Σ segment] ← per part, Σ coefficient · filter (row by row).
    public func build(into stacked: UnsafeMutablePointer<Float>) {
        let rowLength = parts.reduce(0) { $0 + $1.segment }
        for row in 0..<rows {
            var offset = row * rowLength
            for part in parts {
                let length = part.segment
                let out = stacked + offset
                let (first, c0) = part.terms[0]
                let source = first + row * length
                if c0 == 1 {
                    out.update(from: source, count: length)
                } else {
                    for i in 0..<length { out[i] = c0 * source[i] }
                }
                for (filter, c) in part.terms.dropFirst() {
                    let source = filter + row * length
                    for i in 0..<length { out[i] += c * source[i] }
                }
                offset += length
            }
        }
    }
}
