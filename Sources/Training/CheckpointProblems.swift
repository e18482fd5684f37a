import Checkpoints

/// Everything wrong with a checkpoint for one model, gathered so that a single error lists
/// it all (a checkpoint of another model differs in many tensors at once).
struct LoadProblems {
    var missing = [String]()
    var unexpected = [String]()
    /// "name: what the file has vs what the model has".
    var misShaped = [String]()
    /// "name: dtype and why it is refused".
    var wrongType = [String]()
    /// "name: how many values are NaN or ±Inf".
    var nonFinite = [String]()

    /// How many entries of each list the error shows.
    static let shown = 8

    /// The values of tensor `name` as Float32, or nil after recording why they cannot be used.
    /// A flat tensor of the right count is taken only from rat's legacy layout (`acceptFlat`).
    mutating func floats(_ name: String, in file: SafeTensors, modelShape: [Int], acceptFlat: Bool) -> [Float]? {
        guard let tensor = try? file.tensor(name) else { missing.append(name); return nil }
        let modelCount = modelShape.reduce(1, *)
        let flatOfRightCount = acceptFlat && tensor.shape == [modelCount]
        guard tensor.shape == modelShape || flatOfRightCount else {
            misShaped.append("\(name): \(tensor.elementCount) values of shape \(tensor.shape) in the file, "
                             + "\(modelShape) (\(modelCount) values) in the model")
            return nil
        }
        switch tensor.dtype {
        case .float32, .float64, .float16, .bfloat16:
            break
        case .float8E4M3, .float8E5M2:
            wrongType.append("\(name): dtype \(tensor.dtype.rawValue) (8-bit floats are not read; export F32)")
            return nil
        case .bool, .uint8, .int8, .int16, .uint16, .int32, .uint32, .int64, .uint64:
            wrongType.append("\(name): dtype \(tensor.dtype.rawValue) is an integer type; a float parameter or buffer "
                             + "needs F32 (F64, F16 and BF16 are converted)")
            return nil
        }
        guard let values = try? file.float32(name) else {
            wrongType.append("\(name): dtype \(tensor.dtype.rawValue) does not convert to Float32")
            return nil
        }
        let bad = values.reduce(0) { $0 + ($1.isFinite ? 0 : 1) }
        guard bad == 0 else {
            let converted = tensor.dtype == .float32 ? "" : " after conversion from \(tensor.dtype.rawValue) to F32"
            nonFinite.append("\(name): \(bad) of \(values.count) values are NaN or infinite\(converted)")
            return nil
        }
        return values
    }

    /// A BatchNorm's `num_batches_tracked`: one integer of any integer dtype; its value is unused.
    mutating func checkCounter(_ name: String, in file: SafeTensors) {
        guard let tensor = try? file.tensor(name) else { return }
        switch tensor.dtype {
        case .int64, .int32, .int16, .int8, .uint64, .uint32, .uint16, .uint8:
            if tensor.elementCount != 1 {
                misShaped.append("\(name): \(tensor.elementCount) values of shape \(tensor.shape) in the file, "
                                 + "a single integer (shape []) in the model")
            }
        default:
            wrongType.append("\(name): dtype \(tensor.dtype.rawValue); a BatchNorm counter must be an integer (I64)")
        }
    }

    /// The error message, or nil when there is nothing wrong.
    func report(_ path: String) -> String? {
        let fit = missing.count + unexpected.count + misShaped.count
        guard fit + wrongType.count + nonFinite.count > 0 else { return nil }
        var lines = ["\(path): " + (fit > 0 ? "checkpoint does not fit this model:" : "checkpoint holds values rat refuses:")]
        func capped(_ items: [String]) -> [String] {
            Array(items.prefix(Self.shown)) + (items.count > Self.shown ? ["… and \(items.count - Self.shown) more"] : [])
        }
        if !missing.isEmpty { lines.append("  missing (\(missing.count)): " + capped(missing).joined(separator: ", ")) }
        if !unexpected.isEmpty { lines.append("  unexpected (\(unexpected.count)): " + capped(unexpected).joined(separator: ", ")) }
        let prefix = "module."
        if !missing.isEmpty, Set(missing).isSubset(of: unexpected.filter { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) }) {
            lines.append("  (the file's names carry DataParallel's '\(prefix)' prefix: export `model.module.state_dict()`)")
        }
        for (title, items) in [("mis-shaped", misShaped), ("refused dtype", wrongType), ("non-finite", nonFinite)]
        where !items.isEmpty {
            lines.append("  \(title) (\(items.count)):")
            lines += capped(items).map { "    " + $0 }
        }
        return lines.joined(separator: "\n")
    }
}
