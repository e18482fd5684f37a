import CZlib

/// CRC-32 (zlib's polynomial, the same value `cksum -a crc32b` / Python's zlib.crc32 give).
/// zlib's implementation is table-driven and braided, several GB/s, so checking a shard costs
/// less than decompressing it.
public enum Checksum {
    public static func crc32<Bytes: Collection<UInt8>>(_ bytes: Bytes, continuing previous: UInt32 = 0) -> UInt32 {
        let result = bytes.withContiguousStorageIfAvailable { buffer in
            UInt32(CZlib.crc32_z(UInt(previous), buffer.baseAddress, buffer.count))
        }
        if let result { return result }
        return crc32(Array(bytes), continuing: previous)
    }

    public static func crc32(_ buffer: UnsafeRawBufferPointer, continuing previous: UInt32 = 0) -> UInt32 {
        UInt32(CZlib.crc32_z(UInt(previous), buffer.baseAddress?.assumingMemoryBound(to: UInt8.self), buffer.count))
    }

    /// Lower-case 8-digit hex, the form the manifest stores.
    public static func hex(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 8 - digits.count) + digits
    }
}
