import CZstd

/// Writes one split of a dataset as numbered shard files (`<split>-00000.ratshard`, …),
/// compressing each with zstd as soon as it is full, so memory stays at one shard.
public final class ShardWriter {
    public let folder: String
    public let datasetName: String
    public let split: String
    public let channels: Int
    public let height: Int
    public let width: Int
    public let classNames: [String]
    public let recordsPerShard: Int
    public let compressionLevel: Int

    private var labels: [UInt16] = []     // [n] for the shard being filled
    private var pixels: [UInt8] = []      // [n][C][H][W] for the shard being filled
    private var written: [ShardEntry] = []
    private var totalCount = 0

    /// 64 MiB of decompressed payload per shard: large enough that zstd streams at full speed
    /// and per-file overhead vanishes, small enough to hold a couple in memory while loading.
    public static func defaultRecordsPerShard(pixelsPerRecord: Int) -> Int {
        max(1, (64 << 20) / max(1, pixelsPerRecord + 2))
    }

    public init(folder: String, datasetName: String, split: String, channels: Int, height: Int, width: Int,
                classNames: [String], recordsPerShard: Int? = nil, compressionLevel: Int = 3) {
        self.folder = folder
        self.datasetName = datasetName
        self.split = split
        self.channels = channels
        self.height = height
        self.width = width
        self.classNames = classNames
        self.recordsPerShard = max(1, recordsPerShard ?? Self.defaultRecordsPerShard(pixelsPerRecord: channels * height * width))
        self.compressionLevel = compressionLevel
    }

    public var pixelsPerRecord: Int { channels * height * width }

    /// Appends one image ([C][H][W] uint8) and its label.
    public func append<Pixels: Collection<UInt8>>(label: Int, pixels image: Pixels) throws {
        guard label >= 0, label < classNames.count else {
            throw DataFormatError(.labelOutOfRange, file: "\(folder)/\(currentFileName)", field: "label of record \(totalCount)",
                                  "label \(label) is outside 0..<\(classNames.count)")
        }
        guard image.count == pixelsPerRecord else {
            throw DataFormatError(.wrongDimensions, file: "\(folder)/\(currentFileName)", field: "pixels of record \(totalCount)",
                                  "\(image.count) bytes, expected \(channels)×\(height)×\(width) = \(pixelsPerRecord)")
        }
        labels.append(UInt16(label))
        pixels.append(contentsOf: image)
        totalCount += 1
        if labels.count == recordsPerShard { try flush() }
    }

    /// Writes the last partial shard and returns the split's manifest entry.
    public func finish() throws -> SplitManifest {
        if !labels.isEmpty || written.isEmpty { try flush() }
        return SplitManifest(count: totalCount, shards: written)
    }

    private var currentFileName: String { Self.fileName(split: split, index: written.count) }

    public static func fileName(split: String, index: Int) -> String {
        let digits = String(index)
        return "\(split)-\(String(repeating: "0", count: max(0, 5 - digits.count)))\(digits).ratshard"
    }

    private func flush() throws {
        let name = currentFileName
        let path = "\(folder)/\(name)"
        // Payload: labels [n] uint16 LE, then pixels [n][C][H][W].
        var payload: [UInt8] = []
        payload.reserveCapacity(2 * labels.count + pixels.count)
        for label in labels { payload.appendLittleEndian(label) }
        payload.append(contentsOf: pixels)
        let crc = Checksum.crc32(payload)
        let compressed = try Self.compress(payload, level: compressionLevel, file: path)
        let header = ShardHeader(datasetName: datasetName, split: split, channels: channels, height: height, width: width,
                                 recordCount: labels.count, classCount: classNames.count, classNames: classNames,
                                 shardIndex: written.count, payloadSize: payload.count, compressedSize: compressed.count,
                                 payloadCRC: crc)
        try FileBytes.write(header.encoded() + compressed, to: path)
        written.append(ShardEntry(file: name, count: labels.count, payloadBytes: payload.count,
                                  compressedBytes: compressed.count, crc32: Checksum.hex(crc)))
        labels.removeAll(keepingCapacity: true)
        pixels.removeAll(keepingCapacity: true)
    }

    static func compress(_ payload: [UInt8], level: Int, file: String) throws -> [UInt8] {
        guard let context = ZSTD_createCCtx() else {
            throw DataFormatError(.io, file: file, field: "zstd", "cannot allocate a compression context")
        }
        defer { ZSTD_freeCCtx(context) }
        ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, Int32(level))
        let bound = ZSTD_compressBound(payload.count)
        var failure: String?
        let out = [UInt8](unsafeUninitializedCapacity: bound) { buffer, initialized in
            let size = payload.withUnsafeBytes { source in
                ZSTD_compress2(context, buffer.baseAddress, bound, source.baseAddress, source.count)
            }
            if ZSTD_isError(size) != 0 {
                failure = String(cString: ZSTD_getErrorName(size))
                initialized = 0
            } else {
                initialized = size
            }
        }
        if let failure { throw DataFormatError(.io, file: file, field: "zstd", "compression failed: \(failure)") }
        return out
    }
}
