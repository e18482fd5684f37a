import CZstd

/// One decoded shard: header, labels and pixels.
public struct ShardContents: Sendable {
    public var header: ShardHeader
    public var labels: [UInt16]   // [N]
    public var pixels: [UInt8]    // [N][C][H][W]
}

/// Reads shards, keeping one zstd context and one payload buffer across calls so a loop over
/// many shards does not reallocate (decompression runs at ~1.3 GB/s into a reused buffer).
public final class ShardReader {
    private let context: OpaquePointer?
    /// Decompressed payload of the last shard read: labels then pixels.
    public private(set) var payload: [UInt8] = []

    public init() { context = ZSTD_createDCtx() }
    deinit { ZSTD_freeDCtx(context) }

    /// Reads only the header (for listing and cross-checking against a manifest).
    public static func header(_ path: String) throws -> ShardHeader {
        try ShardHeader.decode(try FileBytes.read(path), file: path).header
    }

    /// Reads, decompresses and verifies one shard into `payload`; returns its header.
    /// `expectedCRC` (from the manifest) must also match when given.
    @discardableResult
    public func load(_ path: String, expectedCRC: UInt32? = nil) throws -> ShardHeader {
        let file = try FileBytes.read(path)
        let (header, headerSize) = try ShardHeader.decode(file, file: path)
        let available = file.count - headerSize
        guard available >= header.compressedSize else {
            throw DataFormatError(.truncated, file: path, field: "compressed payload", offset: file.count,
                                  "header promises \(header.compressedSize) compressed bytes from offset \(headerSize), file ends after \(available)")
        }
        guard available == header.compressedSize else {
            throw DataFormatError(.corrupt, file: path, field: "compressed payload", offset: headerSize + header.compressedSize,
                                  "\(available - header.compressedSize) unexpected bytes after the payload")
        }
        if let expectedCRC, expectedCRC != header.payloadCRC {
            throw DataFormatError(.checksumMismatch, file: path, field: "payload CRC-32", offset: ShardHeader.payloadCRCOffset,
                                  "shard header says \(Checksum.hex(header.payloadCRC)) but the manifest says \(Checksum.hex(expectedCRC))")
        }
        guard let context else {
            throw DataFormatError(.io, file: path, field: "zstd", "cannot allocate a decompression context")
        }
        if payload.count != header.payloadSize {
            payload = [UInt8](repeating: 0, count: header.payloadSize)
        }
        let produced = file.withUnsafeBytes { source in
            payload.withUnsafeMutableBytes { destination in
                ZSTD_decompressDCtx(context, destination.baseAddress, destination.count,
                                    source.baseAddress! + headerSize, header.compressedSize)
            }
        }
        if ZSTD_isError(produced) != 0 {
            throw DataFormatError(.corrupt, file: path, field: "compressed payload", offset: headerSize,
                                  "zstd: \(String(cString: ZSTD_getErrorName(produced)))")
        }
        guard produced == header.payloadSize else {
            throw DataFormatError(.truncated, file: path, field: "compressed payload", offset: headerSize,
                                  "decompressed to \(produced) bytes, header says \(header.payloadSize)")
        }
        let crc = payload.withUnsafeBytes { Checksum.crc32($0) }
        guard crc == header.payloadCRC else {
            throw DataFormatError(.checksumMismatch, file: path, field: "payload CRC-32", offset: ShardHeader.payloadCRCOffset,
                                  "stored \(Checksum.hex(header.payloadCRC)), computed \(Checksum.hex(crc)) over the decompressed payload")
        }
        return header
    }

    /// Reads a shard and splits its payload into labels and pixels.
    public func read(_ path: String, expectedCRC: UInt32? = nil) throws -> ShardContents {
        let header = try load(path, expectedCRC: expectedCRC)
        var labels = [UInt16](repeating: 0, count: header.recordCount)
        for i in 0..<header.recordCount {
            labels[i] = UInt16(payload[2 * i]) | UInt16(payload[2 * i + 1]) << 8
            guard Int(labels[i]) < header.classCount else {
                throw DataFormatError(.labelOutOfRange, file: path, field: "label of record \(i)", offset: nil,
                                      "label \(labels[i]) is outside 0..<\(header.classCount) (payload byte \(2 * i))")
            }
        }
        let pixels = Array(payload[header.labelBytes...])
        return ShardContents(header: header, labels: labels, pixels: pixels)
    }
}
