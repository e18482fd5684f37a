import Graph

// Sums of convolutions, computed as one step. Forward mode along the weight noise u makes,
// per layer and stream (h the activation, ḣ and ḧ its first and second tangents),
//   y = conv(h, w)      ẏ = conv(ḣ, w) + conv(h, u)      ÿ = conv(ḧ, w) + 2·conv(ḣ, u)
// and reverse mode through them makes the same shape of sums of input gradients
// (dh = inputGrad(g, w) + inputGrad(ġ, u), …). Run primitive by primitive, every term
// pays its own im2col (or col2im) and every sum a pass over memory. As one group:
//   forward:   im2col each distinct operand once into stacked col rows; each output is
//              one gemm of its filters side by side, [u | w] · [col(h); col(ḣ)], written
//              straight into the output (no sum pass, no copy per term)
//   transpose: gather each distinct dy once into stacked rows; each output is one gemm
//              [u; w]ᵀ · [dy₁; dy₂] and one col2im (instead of one per term, plus a sum)
// Terms of an output that read the same operand add their filters instead (conv(h, w) +
// conv(h, u) = conv(h, w + u)), so a group never does more multiply-adds than its terms.

/// A group of conv2d (or conv2dInputGrad) terms with one attribute set and one operand
/// shape: output j = Σₜ coefficientₜ · op(operand[slotₜ], filter[filterₜ]).
/// The step's operands are the `slots` shared operands, then the filters.
public struct ConvolutionGroup: Hashable, Sendable {
    public struct Term: Hashable, Sendable {
        public var slot: Int
        /// Index among the step's filter operands (operand `slots + filter`).
        public var filter: Int
        public var coefficient: Double
    }
    /// The primitive with its attributes (every term's).
    public var op: Op
    public var slots: Int
    /// Per output, its terms.
    public var outputs: [[Term]]
}

/// One candidate member of a group: a sum tree (root, the add/sub/neg nodes inside it and
/// its convolution leaves with coefficients) or a lone convolution (its own root).
private struct Member {
    var root: Int
    var nodes: [Int]                      // every node the member replaces, root included
    var terms: [(conv: Int, coefficient: Double)]
    var first: Int { nodes.min()! }
}

private struct GroupKey: Hashable {
    var op: Op
    var operandShape: [Int]
    var outputShape: [Int]
}

/// The planner's result: for each group, its first node (where the step runs), the nodes
/// it replaces, its output nodes and the group itself with operand nodes.
struct PlannedGroup {
    var first: Int
    var replaced: [Int]
    var outputs: [Int]
    var operands: [Int]         // slot operands, then filters
    var group: ConvolutionGroup
}

/// Finds sums of at least two convolutions and the lone convolutions that share an operand
/// with them. First layers (C·K·K ≤ 32, which run on direct kernels without im2col) and
/// grouped convolutions are left alone.
func convolutionGroups(_ nodes: [Node], consumers: [[Int]], isOutput: [Bool]) -> [PlannedGroup] {
    func key(_ i: Int) -> GroupKey? {
        let node = nodes[i]
        switch node.op {
        case .conv2d(let c), .conv2dInputGrad(let c):
            let w = nodes[node.inputs[1]].shape
            guard c.groups == 1, w[1] * w[2] * w[3] > 32 else { return nil }
            return GroupKey(op: node.op, operandShape: nodes[node.inputs[0]].shape, outputShape: node.shape)
        default:
            return nil
        }
    }

    // Sum trees, largest first (a root comes after the adds inside it).
    var claimed = [Bool](repeating: false, count: nodes.count)
    var candidates = [(key: GroupKey, member: Member)]()
    for root in nodes.indices.reversed() where !claimed[root] && [.add, .sub].contains(nodes[root].op.kind) {
        var inside = [Int](), terms = [(conv: Int, coefficient: Double)]()
        var treeKey: GroupKey?
        func expand(_ i: Int, _ c: Double) -> Bool {
            guard !claimed[i] else { return false }
            if let k = key(i) {
                guard treeKey == nil || treeKey == k else { return false }
                treeKey = k
                if !inside.contains(i) { inside.append(i) }
                terms.append((i, c))
                return true
            }
            let node = nodes[i]
            switch node.op {
            case .add: inside.append(i); return expand(node.inputs[0], c) && expand(node.inputs[1], c)
            case .sub: inside.append(i); return expand(node.inputs[0], c) && expand(node.inputs[1], -c)
            case .neg: inside.append(i); return expand(node.inputs[0], -c)
            default: return false
            }
        }
        guard expand(root, 1), let k = treeKey, Set(terms.map(\.conv)).count >= 2 else { continue }
        // Everything but the root must be read only inside the tree.
        let tree = Set(inside)
        guard inside.allSatisfy({ $0 == root || (!isOutput[$0] && consumers[$0].allSatisfy(tree.contains)) }) else { continue }
        for i in inside { claimed[i] = true }
        candidates.append((k, Member(root: root, nodes: inside, terms: terms)))
    }
    for i in nodes.indices where !claimed[i] {
        if let k = key(i) { candidates.append((k, Member(root: i, nodes: [i], terms: [(i, 1)]))) }
    }

    // Greedy grouping in schedule order: a member joins the first group of its key that
    // shares an operand with it, if all its operands are computed before the group's
    // first node (where the group's step runs).
    var groups = [(key: GroupKey, members: [Member], slots: [Int])]()
    for (k, member) in candidates.sorted(by: { $0.member.first < $1.member.first }) {
        let operands = member.terms.map { nodes[$0.conv].inputs[0] }
        let filters = member.terms.map { nodes[$0.conv].inputs[1] }
        if let g = groups.indices.first(where: { g in
            groups[g].key == k && operands.contains(where: groups[g].slots.contains)
                && (operands + filters).allSatisfy { $0 < groups[g].members[0].first }
        }) {
            groups[g].members.append(member)
            for x in operands where !groups[g].slots.contains(x) { groups[g].slots.append(x) }
        } else {
            var slots = [Int]()
            for x in operands where !slots.contains(x) { slots.append(x) }
            groups.append((k, [member], slots))
        }
    }

    // Only groups with a sum in them are worth a step of their own; lone convolutions that
    // found no sum are left to the shared-operand merge.
    return groups.filter { $0.members.contains { $0.terms.count > 1 } }.map { g in
        var filters = [Int]()
        let outputs = g.members.map { member in
            // Terms on one slot with one filter add their coefficients.
            var terms = [ConvolutionGroup.Term]()
            for (conv, c) in member.terms {
                let (x, w) = (nodes[conv].inputs[0], nodes[conv].inputs[1])
                if !filters.contains(w) { filters.append(w) }
                let term = ConvolutionGroup.Term(slot: g.slots.firstIndex(of: x)!, filter: filters.firstIndex(of: w)!, coefficient: c)
                if let t = terms.firstIndex(where: { $0.slot == term.slot && $0.filter == term.filter }) {
                    terms[t].coefficient += c
                } else {
                    terms.append(term)
                }
            }
            return terms.sorted { ($0.slot, $0.filter) < ($1.slot, $1.filter) }
        }
        return PlannedGroup(first: g.members[0].first, replaced: g.members.flatMap(\.nodes),
                            outputs: g.members.map(\.root), operands: g.slots + filters,
                            group: ConvolutionGroup(op: g.key.op, slots: g.slots.count, outputs: outputs))
    }
}
