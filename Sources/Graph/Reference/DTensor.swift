/// A dense Double tensor in row-major order: the value type of the reference backend.
public struct DTensor: Equatable, Sendable {
    public var shape: [Int]
    public var data: [Double]

    public init(shape: [Int], data: [Double]) {
        precondition(shape.reduce(1, *) == data.count, "shape \(shape) needs \(shape.reduce(1, *)) values, got \(data.count)")
        self.shape = shape
        self.data = data
    }

    public init(repeating value: Double, shape: [Int]) {
        self.init(shape: shape, data: Array(repeating: value, count: shape.reduce(1, *)))
    }

    public var count: Int { data.count }

    public func map(_ f: (Double) -> Double) -> DTensor { DTensor(shape: shape, data: data.map(f)) }

    /// Row-major strides.
    static func strides(_ shape: [Int]) -> [Int] {
        var s = Array(repeating: 1, count: shape.count)
        for i in stride(from: shape.count - 2, through: 0, by: -1) { s[i] = s[i + 1] * shape[i + 1] }
        return s
    }

    /// Calls `body(flatIndex, multiIndex)` for every element in row-major order.
    static func forEachIndex(_ shape: [Int], _ body: (Int, [Int]) -> Void) {
        let total = shape.reduce(1, *)
        var index = Array(repeating: 0, count: shape.count)
        for flat in 0..<total {
            body(flat, index)
            var axis = shape.count - 1
            while axis >= 0 {
                index[axis] += 1
                if index[axis] < shape[axis] { break }
                index[axis] = 0
                axis -= 1
            }
        }
    }

    /// Expands size-1 axes to `target` (same rank).
    func broadcast(to target: [Int]) -> DTensor {
        let s = DTensor.strides(shape)
        var out = [Double](repeating: 0, count: target.reduce(1, *))
        DTensor.forEachIndex(target) { flat, idx in
            var src = 0
            for a in idx.indices where shape[a] != 1 { src += idx[a] * s[a] }
            out[flat] = data[src]
        }
        return DTensor(shape: target, data: out)
    }

    /// Folds elements into the reduced shape (reduced axes have size 1).
    func reduce(to target: [Int], initial: Double, _ combine: (Double, Double) -> Double) -> DTensor {
        let t = DTensor.strides(target)
        var out = [Double](repeating: initial, count: target.reduce(1, *))
        DTensor.forEachIndex(shape) { flat, idx in
            var dst = 0
            for a in idx.indices where target[a] != 1 { dst += idx[a] * t[a] }
            out[dst] = combine(out[dst], data[flat])
        }
        return DTensor(shape: target, data: out)
    }

    func transposed(_ permutation: [Int]) -> DTensor {
        let s = DTensor.strides(shape)
        let outShape = permutation.map { shape[$0] }
        var out = [Double](repeating: 0, count: count)
        DTensor.forEachIndex(outShape) { flat, idx in
            var src = 0
            for (a, p) in permutation.enumerated() { src += idx[a] * s[p] }
            out[flat] = data[src]
        }
        return DTensor(shape: outShape, data: out)
    }
}

func zip(_ a: DTensor, _ b: DTensor, _ f: (Double, Double) -> Double) -> DTensor {
    precondition(a.shape == b.shape)
    var out = a.data
    for i in out.indices { out[i] = f(a.data[i], b.data[i]) }
    return DTensor(shape: a.shape, data: out)
}
