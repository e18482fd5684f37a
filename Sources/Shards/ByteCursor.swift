/// Bounds-checked little/big-endian reads from a byte array. Every read names the file and
/// the field it is reading, so a short or malformed file becomes a `DataFormatError` with the
/// exact offset instead of a crash.
public struct ByteCursor {
    public let bytes: [UInt8]
    public let file: String
    public var offset: Int
    public var littleEndian: Bool

    public init(_ bytes: [UInt8], file: String, offset: Int = 0, littleEndian: Bool = true) {
        self.bytes = bytes
        self.file = file
        self.offset = offset
        self.littleEndian = littleEndian
    }

    public var remaining: Int { bytes.count - offset }

    /// Throws `.truncated` unless `count` more bytes exist.
    public func require(_ count: Int, for field: String) throws {
        guard count >= 0, offset <= bytes.count, count <= bytes.count - offset else {
            throw DataFormatError(.truncated, file: file, field: field, offset: offset,
                                  "needs \(count) bytes but the file has \(max(0, bytes.count - offset)) left (file size \(bytes.count))")
        }
    }

    public mutating func bytes(_ count: Int, field: String) throws -> ArraySlice<UInt8> {
        try require(count, for: field)
        defer { offset += count }
        return bytes[offset..<(offset + count)]
    }

    public mutating func skip(_ count: Int, field: String) throws {
        try require(count, for: field)
        offset += count
    }

    public mutating func u8(_ field: String) throws -> UInt8 {
        try require(1, for: field)
        defer { offset += 1 }
        return bytes[offset]
    }

    public mutating func u16(_ field: String) throws -> UInt16 {
        UInt16(truncatingIfNeeded: try unsigned(2, field))
    }

    public mutating func u32(_ field: String) throws -> UInt32 {
        UInt32(truncatingIfNeeded: try unsigned(4, field))
    }

    public mutating func u64(_ field: String) throws -> UInt64 {
        try unsigned(8, field)
    }

    /// A UTF-8 string preceded by its UInt16 byte length.
    public mutating func string16(_ field: String) throws -> String {
        let length = Int(try u16("\(field) length"))
        let start = offset
        let raw = try bytes(length, field: field)
        guard let text = String(validating: raw, as: UTF8.self) else {
            throw DataFormatError(.corrupt, file: file, field: field, offset: start, "not valid UTF-8")
        }
        return text
    }

    private mutating func unsigned(_ width: Int, _ field: String) throws -> UInt64 {
        try require(width, for: field)
        var value: UInt64 = 0
        for i in 0..<width {
            let byte = UInt64(bytes[offset + i])
            value |= littleEndian ? byte << (8 * UInt64(i)) : byte << (8 * UInt64(width - 1 - i))
        }
        offset += width
        return value
    }
}

/// Little-endian appends, the mirror of `ByteCursor` for writers.
extension Array where Element == UInt8 {
    public mutating func appendLittleEndian<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }

    public mutating func appendBigEndian<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.bigEndian) { append(contentsOf: $0) }
    }

    public mutating func appendString16(_ text: String) {
        let utf8 = Array(text.utf8.prefix(Int(UInt16.max)))
        appendLittleEndian(UInt16(utf8.count))
        append(contentsOf: utf8)
    }
}
