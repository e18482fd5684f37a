import Foundation
import Shards

/// The IDX format of MNIST and Fashion-MNIST (http://yann.lecun.com/exdb/mnist/), usually
/// gzip-compressed. Header, big-endian: 0x00 0x00, type code (0x08 = uint8), number of
/// dimensions d, then d uint32 sizes; then the data in row-major order.
/// Images: [N][28][28] (d = 3); labels: [N] (d = 1).
public enum IDX {
    public struct Array: Sendable {
        public var dimensions: [Int]
        public var values: [UInt8]
    }

    static let splitFiles = [("train", "train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
                             ("test", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")]

    /// Reads a uint8 IDX file, gzip-compressed or not (detected by the gzip magic 1f 8b).
    public static func read(_ path: String, expectedDimensions: Int) throws -> Array {
        var bytes = try FileBytes.read(path)
        var where_ = ""
        if bytes.count >= 2, bytes[0] == 0x1f, bytes[1] == 0x8b {
            // ISIZE (last 4 bytes, little-endian) is the uncompressed size modulo 2³².
            let tail = bytes.count >= 18 ? bytes.suffix(4).reversed().reduce(0) { $0 << 8 | Int($1) } : 0
            bytes = try Zlib.inflate(bytes, wrapper: .gzip, sizeHint: tail, file: path, field: "gzip stream")
            where_ = " of the decompressed data"
        }
        var cursor = ByteCursor(bytes, file: path, littleEndian: false)
        let zero = try cursor.u16("magic\(where_)")
        let typeCode = try cursor.u8("type code\(where_)")
        let dimensionCount = Int(try cursor.u8("dimension count\(where_)"))
        guard zero == 0 else {
            throw DataFormatError(.badMagic, file: path, field: "magic\(where_)", offset: 0, "first two bytes must be 0, found 0x\(String(zero, radix: 16))")
        }
        guard typeCode == 0x08 else {
            throw DataFormatError(.unsupported, file: path, field: "type code\(where_)", offset: 2, "0x\(String(typeCode, radix: 16)); only 0x08 (uint8) holds images and labels")
        }
        guard dimensionCount == expectedDimensions else {
            throw DataFormatError(.wrongDimensions, file: path, field: "dimension count\(where_)", offset: 3,
                                  "\(dimensionCount) dimensions, expected \(expectedDimensions) (\(expectedDimensions == 1 ? "labels: N" : "images: N×rows×cols"))")
        }
        var dimensions: [Int] = []
        for index in 0..<dimensionCount { dimensions.append(Int(try cursor.u32("size of dimension \(index)\(where_)"))) }
        let count = dimensions.reduce(1, *)
        guard cursor.remaining == count else {
            let kind: DataFormatError.Kind = cursor.remaining < count ? .truncated : .wrongDimensions
            throw DataFormatError(kind, file: path, field: "data\(where_)", offset: cursor.offset,
                                  "dimensions \(dimensions.map(String.init).joined(separator: "×")) need \(count) bytes, found \(cursor.remaining)")
        }
        return Array(dimensions: dimensions, values: Swift.Array(bytes[cursor.offset...]))
    }

    /// Finds `<stem>.gz` or `<stem>` (also the `<stem with . for the last ->` variants some mirrors use).
    static func locate(folder: String, stem: String) throws -> String {
        let candidates = ["\(stem).gz", stem, stem.replacingOccurrences(of: "-idx", with: ".idx") + ".gz",
                          stem.replacingOccurrences(of: "-idx", with: ".idx")]
        for name in candidates where FileManager.default.fileExists(atPath: "\(folder)/\(name)") {
            return "\(folder)/\(name)"
        }
        throw DataFormatError(.missingField, file: "\(folder)/\(stem).gz", field: "file", "missing (also looked for \(candidates.dropFirst().joined(separator: ", ")))")
    }

    /// Decodes a pair of image and label files into one split, checking they agree.
    public static func decodePair(images imagePath: String, labels labelPath: String, classCount: Int) throws -> (SourceSplit, height: Int, width: Int) {
        let images = try read(imagePath, expectedDimensions: 3)
        let labels = try read(labelPath, expectedDimensions: 1)
        guard images.dimensions[0] == labels.dimensions[0] else {
            throw DataFormatError(.wrongDimensions, file: labelPath, field: "size of dimension 0", offset: 4,
                                  "\(labels.dimensions[0]) labels but \(imagePath) holds \(images.dimensions[0]) images")
        }
        var out: [Int] = []
        out.reserveCapacity(labels.values.count)
        for (index, label) in labels.values.enumerated() {
            guard Int(label) < classCount else {
                throw DataFormatError(.labelOutOfRange, file: labelPath, field: "label \(index)", offset: 8 + index,
                                      "label \(label) is outside 0..<\(classCount) (offset in the decompressed data)")
            }
            out.append(Int(label))
        }
        return (SourceSplit(labels: out, pixels: images.values), images.dimensions[1], images.dimensions[2])
    }

    public static func loadDataset(folder: String, name: String, classNames: [String]) throws -> SourceDataset {
        var splits: [String: SourceSplit] = [:]
        var shape: (Int, Int)?
        for (split, imageStem, labelStem) in splitFiles {
            let imagePath = try locate(folder: folder, stem: imageStem)
            let labelPath = try locate(folder: folder, stem: labelStem)
            let (records, height, width) = try decodePair(images: imagePath, labels: labelPath, classCount: classNames.count)
            if let shape, shape != (height, width) {
                throw DataFormatError(.wrongDimensions, file: imagePath, field: "image size", offset: 8,
                                      "\(height)×\(width), but the train images are \(shape.0)×\(shape.1)")
            }
            shape = (height, width)
            splits[split] = records
        }
        return SourceDataset(name: name, channels: 1, height: shape?.0 ?? 28, width: shape?.1 ?? 28,
                             classNames: classNames, splits: splits)
    }
}
