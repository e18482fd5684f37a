/// Conversions between raw little-endian tensor bytes and Swift numeric arrays.
///
/// Loads are unaligned because tensors sit at arbitrary offsets in a file's data buffer;
/// `littleEndian` conversions make this correct on big-endian hosts and free on others.
enum ElementCodec {
    static func littleEndianBytes<Word: FixedWidthInteger>(_ values: [Word]) -> [UInt8] {
        let width = MemoryLayout<Word>.size
        return [UInt8](unsafeUninitializedCapacity: values.count * width) { buffer, initialized in
            let raw = UnsafeMutableRawBufferPointer(buffer)
            for (index, value) in values.enumerated() {
                raw.storeBytes(of: value.littleEndian, toByteOffset: index * width, as: Word.self)
            }
            initialized = values.count * width
        }
    }

    static func words<Word: FixedWidthInteger>(_ bytes: [UInt8], as _: Word.Type) -> [Word] {
        let width = MemoryLayout<Word>.size
        let count = bytes.count / width
        return bytes.withUnsafeBytes { raw in
            (0..<count).map { Word(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * width, as: Word.self)) }
        }
    }

    static func doubles(_ tensor: SafeTensors.Tensor) -> [Double]? {
        let bytes = tensor.bytes
        switch tensor.dtype {
        case .float64: return words(bytes, as: UInt64.self).map(Double.init(bitPattern:))
        case .float32: return words(bytes, as: UInt32.self).map { Double(Float(bitPattern: $0)) }
        case .float16: return words(bytes, as: UInt16.self).map { Double(floatFromHalf($0)) }
        case .bfloat16: return words(bytes, as: UInt16.self).map { Double(floatFromBFloat16($0)) }
        case .int64: return words(bytes, as: Int64.self).map { Double($0) }
        case .uint64: return words(bytes, as: UInt64.self).map { Double($0) }
        case .int32: return words(bytes, as: Int32.self).map { Double($0) }
        case .uint32: return words(bytes, as: UInt32.self).map { Double($0) }
        case .int16: return words(bytes, as: Int16.self).map { Double($0) }
        case .uint16: return words(bytes, as: UInt16.self).map { Double($0) }
        case .int8: return words(bytes, as: Int8.self).map { Double($0) }
        case .uint8: return bytes.map { Double($0) }
        case .bool, .float8E5M2, .float8E4M3: return nil
        }
    }

    static func floats(_ tensor: SafeTensors.Tensor) -> [Float]? {
        let bytes = tensor.bytes
        switch tensor.dtype {
        // Direct paths where going through Double would cost time or double-round.
        case .float32: return words(bytes, as: UInt32.self).map(Float.init(bitPattern:))
        case .float16: return words(bytes, as: UInt16.self).map(floatFromHalf)
        case .bfloat16: return words(bytes, as: UInt16.self).map(floatFromBFloat16)
        case .int64: return words(bytes, as: Int64.self).map { Float($0) }
        case .uint64: return words(bytes, as: UInt64.self).map { Float($0) }
        default: return doubles(tensor)?.map { Float($0) }
        }
    }

    static func int64s(_ tensor: SafeTensors.Tensor) -> [Int64]? {
        let bytes = tensor.bytes
        switch tensor.dtype {
        case .int64: return words(bytes, as: Int64.self)
        case .uint64:
            let values = words(bytes, as: UInt64.self)
            guard values.allSatisfy({ $0 <= UInt64(Int64.max) }) else { return nil }
            return values.map { Int64($0) }
        case .int32: return words(bytes, as: Int32.self).map { Int64($0) }
        case .uint32: return words(bytes, as: UInt32.self).map { Int64($0) }
        case .int16: return words(bytes, as: Int16.self).map { Int64($0) }
        case .uint16: return words(bytes, as: UInt16.self).map { Int64($0) }
        case .int8: return words(bytes, as: Int8.self).map { Int64($0) }
        case .uint8, .bool: return bytes.map { Int64($0) }
        case .float64, .float32, .float16, .bfloat16, .float8E5M2, .float8E4M3: return nil
        }
    }

    /// IEEE binary16 → binary32, by hand because `Float16` is unavailable on macOS x86_64.
    static func floatFromHalf(_ half: UInt16) -> Float {
        let negative = half & 0x8000 != 0
        let exponent = Int((half >> 10) & 0x1F)
        let mantissa = UInt32(half & 0x3FF)
        let magnitude: Float
        switch exponent {
        case 0: magnitude = Float(mantissa) * 0x1p-24  // zero and subnormals
        case 31: magnitude = Float(bitPattern: 0x7F80_0000 | mantissa << 13)  // inf and NaN
        default: magnitude = Float(bitPattern: UInt32(exponent - 15 + 127) << 23 | mantissa << 13)
        }
        return negative ? -magnitude : magnitude
    }

    /// bfloat16 is the top half of a binary32.
    static func floatFromBFloat16(_ bits: UInt16) -> Float {
        Float(bitPattern: UInt32(bits) << 16)
    }
}
