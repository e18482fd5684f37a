/// The on-disk shard: a small uncompressed header, then one zstd frame holding the labels and
/// the pixels of `recordCount` images. docs/data.md documents it byte by byte; this file is
/// the single place that encodes and decodes the header.
///
/// All integers are little-endian.
///
///     offset  size  field
///          0     8  magic "RATSHARD"
///          8     2  format version (1)
///         10     1  pixel dtype (1 = uint8)
///         11     1  label dtype (2 = uint16 little-endian)
///         12     4  header size H (payload starts at byte H)
///         16     4  channels C
///         20     4  height
///         24     4  width
///         28     4  record count N
///         32     4  class count K
///         36     4  shard index within its split
///         40     8  payload size, decompressed (2·N + N·C·H·W)
///         48     8  payload size, compressed (bytes after the header)
///         56     4  CRC-32 of the decompressed payload
///         60     4  CRC-32 of header bytes [0, H) with this field zeroed
///         64     …  dataset name, split name, then K class names; each UInt16 length + UTF-8
///          H     …  zstd frame: labels [N] uint16 LE, then pixels [N][C][H][W] uint8
public struct ShardHeader: Sendable, Equatable {
    public static let magic: [UInt8] = Array("RATSHARD".utf8)
    public static let formatVersion: UInt16 = 1
    public static let pixelDTypeUInt8: UInt8 = 1
    public static let labelDTypeUInt16: UInt8 = 2
    /// Bytes before the variable-length strings.
    public static let fixedSize = 64
    /// Byte offset of the header CRC (zeroed while computing it).
    public static let headerCRCOffset = 60
    /// Byte offset of the payload CRC.
    public static let payloadCRCOffset = 56

    public var datasetName: String
    public var split: String
    public var channels: Int
    public var height: Int
    public var width: Int
    public var recordCount: Int
    public var classCount: Int
    public var classNames: [String]
    public var shardIndex: Int
    public var payloadSize: Int
    public var compressedSize: Int
    public var payloadCRC: UInt32

    public init(datasetName: String, split: String, channels: Int, height: Int, width: Int,
                recordCount: Int, classCount: Int, classNames: [String], shardIndex: Int,
                payloadSize: Int, compressedSize: Int, payloadCRC: UInt32) {
        self.datasetName = datasetName
        self.split = split
        self.channels = channels
        self.height = height
        self.width = width
        self.recordCount = recordCount
        self.classCount = classCount
        self.classNames = classNames
        self.shardIndex = shardIndex
        self.payloadSize = payloadSize
        self.compressedSize = compressedSize
        self.payloadCRC = payloadCRC
    }

    /// Bytes of one image: C·H·W.
    public var pixelsPerRecord: Int { channels * height * width }
    /// Bytes of the label block at the start of the payload.
    public var labelBytes: Int { 2 * recordCount }

    /// Encodes the header, computing its size and its own CRC.
    public func encoded() -> [UInt8] {
        var strings: [UInt8] = []
        strings.appendString16(datasetName)
        strings.appendString16(split)
        for name in classNames { strings.appendString16(name) }

        var out: [UInt8] = []
        out.reserveCapacity(Self.fixedSize + strings.count)
        out.append(contentsOf: Self.magic)
        out.appendLittleEndian(Self.formatVersion)
        out.append(Self.pixelDTypeUInt8)
        out.append(Self.labelDTypeUInt16)
        out.appendLittleEndian(UInt32(Self.fixedSize + strings.count))
        for value in [channels, height, width, recordCount, classCount, shardIndex] {
            out.appendLittleEndian(UInt32(truncatingIfNeeded: value))
        }
        out.appendLittleEndian(UInt64(payloadSize))
        out.appendLittleEndian(UInt64(compressedSize))
        out.appendLittleEndian(payloadCRC)
        out.appendLittleEndian(UInt32(0))  // header CRC placeholder
        out.append(contentsOf: strings)
        let crc = Checksum.crc32(out)
        withUnsafeBytes(of: crc.littleEndian) { raw in
            for i in 0..<4 { out[Self.headerCRCOffset + i] = raw[i] }
        }
        return out
    }

    /// Decodes and validates a header at the start of `bytes` (which may be the whole file).
    /// Returns the header and the payload's start offset.
    public static func decode(_ bytes: [UInt8], file: String) throws -> (header: ShardHeader, headerSize: Int) {
        var cursor = ByteCursor(bytes, file: file)
        let magic = try cursor.bytes(8, field: "magic")
        guard Array(magic) == Self.magic else {
            throw DataFormatError(.badMagic, file: file, field: "magic", offset: 0,
                                  "expected \"RATSHARD\", found bytes \(magic.map { String($0, radix: 16) }.joined(separator: " "))")
        }
        let version = try cursor.u16("format version")
        guard version == formatVersion else {
            throw DataFormatError(.unsupported, file: file, field: "format version", offset: 8,
                                  "version \(version); this build reads version \(formatVersion)")
        }
        let pixelType = try cursor.u8("pixel dtype")
        guard pixelType == pixelDTypeUInt8 else {
            throw DataFormatError(.unsupported, file: file, field: "pixel dtype", offset: 10, "code \(pixelType); only 1 (uint8) is defined")
        }
        let labelType = try cursor.u8("label dtype")
        guard labelType == labelDTypeUInt16 else {
            throw DataFormatError(.unsupported, file: file, field: "label dtype", offset: 11, "code \(labelType); only 2 (uint16) is defined")
        }
        let headerSize = Int(try cursor.u32("header size"))
        guard headerSize >= fixedSize else {
            throw DataFormatError(.corrupt, file: file, field: "header size", offset: 12, "\(headerSize) is smaller than the fixed part (\(fixedSize))")
        }
        try ByteCursor(bytes, file: file).require(headerSize, for: "header")

        // Check the header's own CRC before trusting any size in it.
        let storedHeaderCRC = bytes[headerCRCOffset..<(headerCRCOffset + 4)].enumerated()
            .reduce(UInt32(0)) { $0 | UInt32($1.element) << (8 * UInt32($1.offset)) }
        var zeroed = Array(bytes[0..<headerSize])
        for i in 0..<4 { zeroed[headerCRCOffset + i] = 0 }
        let actualHeaderCRC = Checksum.crc32(zeroed)
        guard actualHeaderCRC == storedHeaderCRC else {
            throw DataFormatError(.checksumMismatch, file: file, field: "header CRC-32", offset: headerCRCOffset,
                                  "stored \(Checksum.hex(storedHeaderCRC)), computed \(Checksum.hex(actualHeaderCRC)): the header is damaged")
        }

        var values: [Int] = []
        for field in ["channels", "height", "width", "record count", "class count", "shard index"] {
            values.append(Int(try cursor.u32(field)))
        }
        let payloadSize = try cursor.u64("payload size")
        let compressedSize = try cursor.u64("compressed size")
        let payloadCRC = try cursor.u32("payload CRC-32")
        _ = try cursor.u32("header CRC-32")
        let datasetName = try cursor.string16("dataset name")
        let split = try cursor.string16("split name")
        var names: [String] = []
        for index in 0..<values[4] { names.append(try cursor.string16("class name \(index)")) }
        guard cursor.offset == headerSize else {
            throw DataFormatError(.corrupt, file: file, field: "header size", offset: 12,
                                  "says \(headerSize) bytes but the strings end at \(cursor.offset)")
        }
        let header = ShardHeader(datasetName: datasetName, split: split, channels: values[0], height: values[1],
                                 width: values[2], recordCount: values[3], classCount: values[4], classNames: names,
                                 shardIndex: values[5], payloadSize: Int(clamping: payloadSize),
                                 compressedSize: Int(clamping: compressedSize), payloadCRC: payloadCRC)
        let expected = header.labelBytes + header.recordCount * header.pixelsPerRecord
        guard header.payloadSize == expected else {
            throw DataFormatError(.wrongDimensions, file: file, field: "payload size", offset: 40,
                                  "\(header.payloadSize) bytes, but \(header.recordCount) records of \(header.channels)×\(header.height)×\(header.width) need \(expected)")
        }
        return (header, headerSize)
    }
}
