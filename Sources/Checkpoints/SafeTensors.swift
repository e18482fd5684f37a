/// An in-memory safetensors checkpoint: named tensors in a stable order, plus string metadata.
///
/// Order: tensors keep insertion order, which is also the order of their bytes in the data
/// buffer when written. A file read from disk lists tensors by ascending data offset, so a
/// write → read round trip preserves order. The JSON header itself is written with keys
/// sorted by UTF-8 bytes (`__metadata__` first), which keeps files byte-for-byte
/// deterministic regardless of how the checkpoint was assembled.
public struct SafeTensors: Sendable, Equatable {
    /// One tensor: element type, shape (row-major, `[]` for a scalar), raw little-endian bytes.
    /// `bytes.count == product(shape) * dtype.byteSize` always holds; the builders and the
    /// reader are the only ways to make one.
    public struct Tensor: Sendable, Equatable {
        public let dtype: DType
        public let shape: [Int]
        public let bytes: [UInt8]

        public var elementCount: Int { bytes.count / dtype.byteSize }

        init(dtype: DType, shape: [Int], bytes: [UInt8]) {
            self.dtype = dtype
            self.shape = shape
            self.bytes = bytes
        }
    }

    /// The JSON key the format reserves for metadata; no tensor may use it.
    public static let metadataKey = "__metadata__"

    /// Free-form string metadata, stored under `__metadata__` in the header.
    public var metadata: [String: String]
    /// Where this checkpoint came from (a path, `<data>`, or `<memory>`); used to make
    /// lookup errors name the file. Not part of equality.
    public private(set) var source: String
    /// Tensor names in order (see the type's documentation for which order).
    public private(set) var names: [String]
    private var tensorsByName: [String: Tensor]

    public init(metadata: [String: String] = [:], source: String = "<memory>") {
        self.metadata = metadata
        self.source = source
        self.names = []
        self.tensorsByName = [:]
    }

    public static func == (lhs: SafeTensors, rhs: SafeTensors) -> Bool {
        lhs.names == rhs.names && lhs.tensorsByName == rhs.tensorsByName && lhs.metadata == rhs.metadata
    }

    public var count: Int { names.count }

    public func contains(_ name: String) -> Bool { tensorsByName[name] != nil }

    // MARK: Lookup

    public func tensor(_ name: String) throws(SafeTensorsError) -> Tensor {
        guard let tensor = tensorsByName[name] else {
            let closest = NameSuggestions.closest(to: name, among: names)
            throw SafeTensorsError(source: source, problem: .missingTensor(name: name, closestNames: closest))
        }
        return tensor
    }

    public func shape(_ name: String) throws(SafeTensorsError) -> [Int] { try tensor(name).shape }

    public func dtype(_ name: String) throws(SafeTensorsError) -> DType { try tensor(name).dtype }

    /// Values as `Float`, converting from any float or integer dtype (F64 and wide integers
    /// round to nearest). BOOL and the 8-bit float formats are refused.
    public func float32(_ name: String) throws(SafeTensorsError) -> [Float] {
        let tensor = try tensor(name)
        guard let values = ElementCodec.floats(tensor) else { throw notConvertible(name, tensor, "Float") }
        return values
    }

    /// Values as `Double`, converting from any float or integer dtype (exact except for
    /// 64-bit integers beyond 2^53). BOOL and the 8-bit float formats are refused.
    public func float64(_ name: String) throws(SafeTensorsError) -> [Double] {
        let tensor = try tensor(name)
        guard let values = ElementCodec.doubles(tensor) else { throw notConvertible(name, tensor, "Double") }
        return values
    }

    /// Values as `Int64`, from integer and BOOL dtypes only: floats are refused rather than
    /// silently truncated, as is a U64 value above `Int64.max`.
    public func int64(_ name: String) throws(SafeTensorsError) -> [Int64] {
        let tensor = try tensor(name)
        guard let values = ElementCodec.int64s(tensor) else { throw notConvertible(name, tensor, "Int64") }
        return values
    }

    /// The raw bytes of a U8 or BOOL tensor.
    public func uint8(_ name: String) throws(SafeTensorsError) -> [UInt8] {
        let tensor = try tensor(name)
        guard tensor.dtype == .uint8 || tensor.dtype == .bool else { throw notConvertible(name, tensor, "UInt8") }
        return tensor.bytes
    }

    private func notConvertible(_ name: String, _ tensor: Tensor, _ target: String) -> SafeTensorsError {
        SafeTensorsError(source: source, problem: .notConvertible(tensor: name, dtype: tensor.dtype, target: target))
    }

    // MARK: Building

    public mutating func add(_ name: String, float32 values: [Float], shape: [Int]) throws(SafeTensorsError) {
        try add(name, dtype: .float32, shape: shape, elementCount: values.count,
                bytes: ElementCodec.littleEndianBytes(values.map(\.bitPattern)))
    }

    public mutating func add(_ name: String, float64 values: [Double], shape: [Int]) throws(SafeTensorsError) {
        try add(name, dtype: .float64, shape: shape, elementCount: values.count,
                bytes: ElementCodec.littleEndianBytes(values.map(\.bitPattern)))
    }

    public mutating func add(_ name: String, int64 values: [Int64], shape: [Int]) throws(SafeTensorsError) {
        try add(name, dtype: .int64, shape: shape, elementCount: values.count,
                bytes: ElementCodec.littleEndianBytes(values))
    }

    public mutating func add(_ name: String, uint8 values: [UInt8], shape: [Int]) throws(SafeTensorsError) {
        try add(name, dtype: .uint8, shape: shape, elementCount: values.count, bytes: values)
    }

    /// Adds a tensor of any dtype from raw little-endian bytes.
    public mutating func add(_ name: String, dtype: DType, shape: [Int], bytes: [UInt8]) throws(SafeTensorsError) {
        try add(name, dtype: dtype, shape: shape, elementCount: bytes.count / dtype.byteSize, bytes: bytes,
                byteCountIsExact: bytes.count % dtype.byteSize == 0)
    }

    /// Removes and returns a tensor, so a checkpoint can be edited (e.g. replace = remove + add).
    @discardableResult
    public mutating func remove(_ name: String) -> Tensor? {
        guard let removed = tensorsByName.removeValue(forKey: name) else { return nil }
        names.removeAll { $0 == name }
        return removed
    }

    /// Duplicates throw instead of replacing: two parameters mapping to one name is a bug
    /// that silent replacement would hide until the checkpoint is loaded.
    private mutating func add(_ name: String, dtype: DType, shape: [Int], elementCount: Int, bytes: [UInt8],
                              byteCountIsExact: Bool = true) throws(SafeTensorsError) {
        guard name != Self.metadataKey else {
            throw SafeTensorsError(source: source, problem: .reservedName(name: name))
        }
        guard tensorsByName[name] == nil else {
            throw SafeTensorsError(source: source, problem: .duplicateTensor(name: name))
        }
        guard byteCountIsExact, ShapeMath.elementCount(shape) == elementCount else {
            throw SafeTensorsError(source: source, problem: .elementCountMismatch(
                tensor: name, shape: shape, elementCount: elementCount))
        }
        insert(name, Tensor(dtype: dtype, shape: shape, bytes: bytes))
    }

    /// Appends an already validated tensor (used by the reader).
    mutating func insert(_ name: String, _ tensor: Tensor) {
        names.append(name)
        tensorsByName[name] = tensor
    }

    var orderedTensors: [(name: String, tensor: Tensor)] {
        names.compactMap { name in tensorsByName[name].map { (name, $0) } }
    }
}
