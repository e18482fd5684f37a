/// Element types of the safetensors format, spelled as they appear in the JSON header.
///
/// Only whole-byte types are listed; the sub-byte float formats (F4, F6_*) are rejected on
/// read as unknown dtypes rather than mis-sized.
public enum DType: String, Sendable, CaseIterable, Hashable {
    case bool = "BOOL"
    case uint8 = "U8", int8 = "I8"
    case float8E5M2 = "F8_E5M2", float8E4M3 = "F8_E4M3"
    case int16 = "I16", uint16 = "U16", float16 = "F16", bfloat16 = "BF16"
    case int32 = "I32", uint32 = "U32", float32 = "F32"
    case int64 = "I64", uint64 = "U64", float64 = "F64"

    /// Bytes per element.
    public var byteSize: Int {
        switch self {
        case .bool, .uint8, .int8, .float8E5M2, .float8E4M3: 1
        case .int16, .uint16, .float16, .bfloat16: 2
        case .int32, .uint32, .float32: 4
        case .int64, .uint64, .float64: 8
        }
    }
}

/// Shape arithmetic shared by the reader and the builders; overflow and negative
/// dimensions come from untrusted headers, so they are errors, not traps.
enum ShapeMath {
    /// Number of elements for `shape` (1 for a scalar `[]`), or nil if a dimension is
    /// negative or the product overflows.
    static func elementCount(_ shape: [Int]) -> Int? {
        var count = 1
        for dimension in shape {
            guard dimension >= 0 else { return nil }
            let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
            guard !overflow else { return nil }
            count = product
        }
        return count
    }

    /// Byte size of a tensor of `shape` and `dtype`, or nil on a bad shape or overflow.
    static func byteCount(_ shape: [Int], _ dtype: DType) -> Int? {
        guard let count = elementCount(shape) else { return nil }
        let (bytes, overflow) = count.multipliedReportingOverflow(by: dtype.byteSize)
        return overflow ? nil : bytes
    }
}
