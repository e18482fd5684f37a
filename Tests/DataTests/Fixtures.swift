import CZlib
import Foundation
import Shards
import Testing

/// Writers for small files in the exact published layouts, plus test helpers.
enum Fixtures {
    /// A fresh empty folder under the system temporary directory.
    static func temporaryFolder(_ tag: String = #function) throws -> String {
        let safe = tag.filter { $0.isLetter || $0.isNumber }
        let path = NSTemporaryDirectory() + "rat-data-\(safe)-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// Deterministic pseudo-random bytes, so failures reproduce.
    static func bytes(_ count: Int, seed: UInt64) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: KeyedRandom.hash(seed, UInt64($0))) }
    }

    // MARK: CIFAR binary: [label byte(s)][3072 pixels] per record

    static func cifarBatch(labels: [[UInt8]], images: [[UInt8]]) -> [UInt8] {
        var out: [UInt8] = []
        for (label, image) in zip(labels, images) { out += label + image }
        return out
    }

    // MARK: IDX (big-endian header), gzip-compressed with zlib

    static func idx(dimensions: [Int], values: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [0, 0, 0x08, UInt8(dimensions.count)]
        for dimension in dimensions { out.appendBigEndian(UInt32(dimension)) }
        return out + values
    }

    // MARK: MATLAB v5

    /// 128-byte MAT-file header, little-endian ("IM").
    static func matHeader() -> [UInt8] {
        var text = Array("MATLAB 5.0 MAT-file, Platform: GLNXA64, Created on: test".utf8)
        text += [UInt8](repeating: 0x20, count: 116 - text.count)
        return text + [UInt8](repeating: 0, count: 8) + [0x00, 0x01] + Array("IM".utf8)
    }

    /// A tagged data element padded to 8 bytes.
    static func element(type: UInt32, _ data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.appendLittleEndian(type)
        out.appendLittleEndian(UInt32(data.count))
        out += data
        out += [UInt8](repeating: 0, count: (8 - data.count % 8) % 8)
        return out
    }

    /// A small data element: size in the high 16 bits, type in the low, ≤ 4 data bytes.
    static func smallElement(type: UInt32, _ data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.appendLittleEndian(UInt32(data.count) << 16 | type)
        return out + data + [UInt8](repeating: 0, count: 4 - data.count)
    }

    /// miMATRIX of a numeric class (6 double, 9 uint8) with data stored as `storedType`.
    static func matrix(name: String, classCode: UInt32, dimensions: [Int], storedType: UInt32, data: [UInt8]) -> [UInt8] {
        var flags: [UInt8] = []
        flags.appendLittleEndian(classCode)
        flags.appendLittleEndian(UInt32(0))
        var dims: [UInt8] = []
        for dimension in dimensions { dims.appendLittleEndian(Int32(dimension)) }
        let nameBytes = Array(name.utf8)
        let body = element(type: 6, flags) + element(type: 5, dims)
            + (nameBytes.count <= 4 ? smallElement(type: 1, nameBytes) : element(type: 1, nameBytes))
            + element(type: storedType, data)
        var out: [UInt8] = []
        out.appendLittleEndian(UInt32(14))
        out.appendLittleEndian(UInt32(body.count))
        return out + body
    }

    /// Wraps an element in miCOMPRESSED using zlib's compress2 (as MATLAB's -v7 files do).
    static func compressed(_ element: [UInt8]) -> [UInt8] {
        var length = compressBound(UInt(element.count))
        var packed = [UInt8](repeating: 0, count: Int(length))
        let status = compress2(&packed, &length, element, UInt(element.count), 6)
        #expect(status == Z_OK)
        var out: [UInt8] = []
        out.appendLittleEndian(UInt32(15))
        out.appendLittleEndian(UInt32(length))
        return out + packed[0..<Int(length)]
    }

    static func doubles(_ values: [Int]) -> [UInt8] {
        var out: [UInt8] = []
        for value in values { out.appendLittleEndian(Double(value).bitPattern) }
        return out
    }

    /// Column-major X[h, w, c, n] from reference images [n][c][h][w] (32×32×3).
    static func svhnColumnMajor(_ images: [[UInt8]]) -> [UInt8] {
        var x = [UInt8](repeating: 0, count: images.count * 3072)
        for (n, image) in images.enumerated() {
            for c in 0..<3 { for h in 0..<32 { for w in 0..<32 {
                x[h + 32 * w + 1024 * c + 3072 * n] = image[1024 * c + 32 * h + w]
            } } }
        }
        return x
    }
}

/// Asserts that `body` throws a `DataFormatError` of `kind` whose message names `file`.
func expectDataError(_ kind: DataFormatError.Kind, mentioning file: String, needsOffset: Bool = false,
                     sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void) {
    do {
        try body()
        Issue.record("expected a \(kind) error naming \(file), but nothing was thrown", sourceLocation: sourceLocation)
    } catch let error as DataFormatError {
        #expect(error.kind == kind, "\(error)", sourceLocation: sourceLocation)
        #expect(error.description.contains(file), "\(error)", sourceLocation: sourceLocation)
        if needsOffset { #expect(error.offset != nil, "\(error)", sourceLocation: sourceLocation) }
    } catch {
        Issue.record("expected DataFormatError, got \(error)", sourceLocation: sourceLocation)
    }
}
