import Foundation

/// One shard as listed in the manifest.
public struct ShardEntry: Codable, Sendable, Equatable {
    public var file: String          // relative to the dataset folder
    public var count: Int            // records in this shard
    public var payloadBytes: Int     // decompressed payload size
    public var compressedBytes: Int  // zstd frame size
    public var crc32: String         // CRC-32 of the decompressed payload, 8 lower-case hex digits

    public init(file: String, count: Int, payloadBytes: Int, compressedBytes: Int, crc32: String) {
        self.file = file
        self.count = count
        self.payloadBytes = payloadBytes
        self.compressedBytes = compressedBytes
        self.crc32 = crc32
    }

    enum CodingKeys: String, CodingKey {
        case file, count, crc32
        case payloadBytes = "payload_bytes"
        case compressedBytes = "compressed_bytes"
    }
}

public struct SplitManifest: Codable, Sendable, Equatable {
    public var count: Int
    public var shards: [ShardEntry]
    public init(count: Int, shards: [ShardEntry]) {
        self.count = count
        self.shards = shards
    }
}

/// `manifest.json` of a prepared dataset folder: what the shards are and how to trust them.
public struct Manifest: Codable, Sendable, Equatable {
    public static let fileName = "manifest.json"
    public static let formatTag = "rat-shards"

    public var format: String
    public var version: Int
    public var name: String
    /// The published layout it was converted from (cifar10, svhn, fashion-mnist, …).
    public var sourceFormat: String
    public var channels: Int
    public var height: Int
    public var width: Int
    public var dtype: String
    public var classCount: Int
    public var classNames: [String]
    public var splits: [String: SplitManifest]
    /// Free-form notes: source path, validation seed, subset rule.
    public var provenance: [String: String]

    public init(name: String, sourceFormat: String, channels: Int, height: Int, width: Int, classNames: [String],
                splits: [String: SplitManifest], provenance: [String: String] = [:]) {
        self.format = Self.formatTag
        self.version = Int(ShardHeader.formatVersion)
        self.name = name
        self.sourceFormat = sourceFormat
        self.channels = channels
        self.height = height
        self.width = width
        self.dtype = "uint8"
        self.classCount = classNames.count
        self.classNames = classNames
        self.splits = splits
        self.provenance = provenance
    }

    enum CodingKeys: String, CodingKey {
        case format, version, name, channels, height, width, dtype, splits, provenance
        case sourceFormat = "source_format"
        case classCount = "class_count"
        case classNames = "class_names"
    }

    public func encoded() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(self), as: UTF8.self) + "\n"
    }

    public func write(toFolder folder: String) throws {
        try FileBytes.write(try encoded(), to: "\(folder)/\(Self.fileName)")
    }

    /// Reads and validates `<folder>/manifest.json`.
    public static func read(folder: String) throws -> Manifest {
        let path = "\(folder)/\(fileName)"
        let bytes = try FileBytes.read(path)
        let manifest: Manifest
        do {
            manifest = try JSONDecoder().decode(Manifest.self, from: Foundation.Data(bytes))
        } catch let DecodingError.keyNotFound(key, context) {
            throw DataFormatError(.missingField, file: path, field: (context.codingPath + [key]).map(\.stringValue).joined(separator: "."),
                                  "required key is missing")
        } catch let DecodingError.typeMismatch(_, context) {
            throw DataFormatError(.corrupt, file: path, field: context.codingPath.map(\.stringValue).joined(separator: "."),
                                  context.debugDescription)
        } catch {
            throw DataFormatError(.corrupt, file: path, field: "JSON", "not a valid manifest: \(error)")
        }
        guard manifest.format == formatTag else {
            throw DataFormatError(.badMagic, file: path, field: "format", "\"\(manifest.format)\", expected \"\(formatTag)\"")
        }
        guard manifest.version == Int(ShardHeader.formatVersion) else {
            throw DataFormatError(.unsupported, file: path, field: "version", "\(manifest.version); this build reads \(ShardHeader.formatVersion)")
        }
        guard manifest.classNames.count == manifest.classCount, manifest.classCount > 0 else {
            throw DataFormatError(.wrongDimensions, file: path, field: "class_names",
                                  "\(manifest.classNames.count) names for class_count \(manifest.classCount)")
        }
        guard manifest.channels > 0, manifest.height > 0, manifest.width > 0 else {
            throw DataFormatError(.wrongDimensions, file: path, field: "channels/height/width", "image shape must be positive")
        }
        for (split, entry) in manifest.splits {
            let sum = entry.shards.reduce(0) { $0 + $1.count }
            guard sum == entry.count else {
                throw DataFormatError(.wrongDimensions, file: path, field: "splits.\(split).count",
                                      "\(entry.count), but its shards hold \(sum) records")
            }
            for shard in entry.shards where UInt32(shard.crc32, radix: 16) == nil || shard.file.contains("/") {
                throw DataFormatError(.corrupt, file: path, field: "splits.\(split).shards[\(shard.file)]",
                                      "crc32 must be 8 hex digits and file a plain name")
            }
        }
        return manifest
    }

    /// Split names in a stable, conventional order: train, val, test, then the rest.
    public var splitNames: [String] {
        let preferred = ["train", "val", "test", "extra"]
        return preferred.filter { splits[$0] != nil } + splits.keys.filter { !preferred.contains($0) }.sorted()
    }
}
