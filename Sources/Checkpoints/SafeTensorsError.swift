/// A safetensors failure: which file (or in-memory source) and what is wrong with it.
///
/// `problem` is structured so callers and tests can match on it; `description` is the
/// one-line message meant for a human reading a training log.
public struct SafeTensorsError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The file path, or a label such as `<data>` for buffers that never touched disk.
    public let source: String
    public let problem: Problem

    public init(source: String, problem: Problem) {
        self.source = source
        self.problem = problem
    }

    public enum Problem: Sendable, Equatable {
        // Container framing.
        case fileTooShort(byteCount: Int)
        case headerLengthExceedsFile(headerLength: UInt64, fileSize: Int)
        case headerNotUTF8(byteOffset: Int)
        /// `byteOffset` is counted from the start of the file, when the parser reports one.
        case invalidJSON(detail: String, byteOffset: Int?)
        case invalidMetadata(key: String, reason: String)
        // Per-tensor header entries.
        case invalidTensorEntry(tensor: String, reason: String)
        case unknownDType(tensor: String, dtype: String)
        case offsetsOutOfRange(tensor: String, begin: Int, end: Int, bufferSize: Int)
        case sizeMismatch(tensor: String, dtype: DType, shape: [Int], expectedBytes: Int, actualBytes: Int)
        case overlappingTensors(tensor: String, overlapped: String)
        case gapBeforeTensor(tensor: String, expectedBegin: Int, actualBegin: Int)
        case unusedTrailingBytes(count: Int)
        // Lookups and builders.
        case missingTensor(name: String, closestNames: [String])
        case notConvertible(tensor: String, dtype: DType, target: String)
        case duplicateTensor(name: String)
        case reservedName(name: String)
        case elementCountMismatch(tensor: String, shape: [Int], elementCount: Int)
        // The operating system said no.
        case io(operation: String, detail: String)
    }

    public var description: String { "\(source): \(problem.message)" }
}

extension SafeTensorsError.Problem {
    var message: String {
        switch self {
        case .fileTooShort(let count):
            return "file is \(count) bytes, shorter than the 8-byte header length prefix"
        case .headerLengthExceedsFile(let length, let size):
            return "header length \(length) bytes exceeds the \(size - 8) bytes after the prefix (file size \(size))"
        case .headerNotUTF8(let offset):
            return "header is not valid UTF-8 at file byte \(offset)"
        case .invalidJSON(let detail, let offset):
            let location = offset.map { " at file byte \($0)" } ?? ""
            return "header is not valid JSON\(location): \(detail)"
        case .invalidMetadata(let key, let reason):
            return "__metadata__ entry '\(key)' is invalid: \(reason)"
        case .invalidTensorEntry(let tensor, let reason):
            return "tensor '\(tensor)': \(reason)"
        case .unknownDType(let tensor, let dtype):
            return "tensor '\(tensor)' has unknown dtype '\(dtype)'"
        case .offsetsOutOfRange(let tensor, let begin, let end, let size):
            return "tensor '\(tensor)' data_offsets [\(begin), \(end)] fall outside the \(size)-byte data buffer"
        case .sizeMismatch(let tensor, let dtype, let shape, let expected, let actual):
            return "tensor '\(tensor)' is \(dtype.rawValue) \(shape) = \(expected) bytes but data_offsets span \(actual) bytes"
        case .overlappingTensors(let tensor, let overlapped):
            return "tensor '\(tensor)' overlaps tensor '\(overlapped)' in the data buffer"
        case .gapBeforeTensor(let tensor, let expected, let actual):
            return "tensor '\(tensor)' begins at \(actual) but the previous tensor ends at \(expected) (data must be contiguous)"
        case .unusedTrailingBytes(let count):
            return "\(count) bytes at the end of the data buffer belong to no tensor"
        case .missingTensor(let name, let closest):
            let hint = closest.isEmpty ? "the file has no tensors"
                : "closest names: " + closest.map { "'\($0)'" }.joined(separator: ", ")
            return "no tensor named '\(name)'; \(hint)"
        case .notConvertible(let tensor, let dtype, let target):
            return "tensor '\(tensor)' has dtype \(dtype.rawValue), which does not convert to \(target)"
        case .duplicateTensor(let name):
            return "a tensor named '\(name)' already exists"
        case .reservedName(let name):
            return "'\(name)' is reserved by the format and cannot name a tensor"
        case .elementCountMismatch(let tensor, let shape, let count):
            return "tensor '\(tensor)' has shape \(shape) but \(count) elements were given"
        case .io(let operation, let detail):
            return "\(operation) failed: \(detail)"
        }
    }
}
