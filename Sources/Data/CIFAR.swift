import Foundation
import Shards

/// CIFAR-10/100 "binary version" (https://www.cs.toronto.edu/~kriz/cifar.html).
///
/// CIFAR-10: `data_batch_1.bin` … `data_batch_5.bin` (train), `test_batch.bin` (test);
/// each record is 1 label byte + 3072 pixel bytes (1024 red, 1024 green, 1024 blue, rows
/// top to bottom) — already [C][H][W], so pixels are copied unchanged.
/// CIFAR-100: `train.bin`, `test.bin`; each record is coarse label, fine label, 3072 pixels.
/// We keep the fine label (100 classes).
public enum CIFAR {
    public enum Variant: Sendable {
        case cifar10, cifar100
        var labelBytes: Int { self == .cifar10 ? 1 : 2 }
        var recordSize: Int { labelBytes + 3072 }
        var classNames: [String] { self == .cifar10 ? ClassNames.cifar10 : ClassNames.cifar100 }
        var name: String { self == .cifar10 ? "cifar10" : "cifar100" }
        var splitFiles: [(split: String, files: [String])] {
            switch self {
            case .cifar10: return [("train", (1...5).map { "data_batch_\($0).bin" }), ("test", ["test_batch.bin"])]
            case .cifar100: return [("train", ["train.bin"]), ("test", ["test.bin"])]
            }
        }
        /// The folder the published tarball unpacks to, accepted as a convenience.
        var tarballFolder: String { self == .cifar10 ? "cifar-10-batches-bin" : "cifar-100-binary" }
    }

    public static func load(folder: String, variant: Variant) throws -> SourceDataset {
        let root = resolveFolder(folder, variant: variant)
        var splits: [String: SourceSplit] = [:]
        for (split, files) in variant.splitFiles {
            var records = SourceSplit()
            for name in files {
                let path = "\(root)/\(name)"
                guard FileManager.default.fileExists(atPath: path) else {
                    throw DataFormatError(.missingField, file: path, field: "file",
                                          "missing; a \(variant.name) binary folder holds \(files.joined(separator: ", "))")
                }
                try decodeBatch(try FileBytes.read(path), file: path, variant: variant, into: &records)
            }
            splits[split] = records
        }
        return SourceDataset(name: variant.name, channels: 3, height: 32, width: 32,
                             classNames: variant.classNames, splits: splits)
    }

    /// Appends the records of one batch file; validates size and labels.
    public static func decodeBatch(_ bytes: [UInt8], file: String, variant: Variant, into records: inout SourceSplit) throws {
        let recordSize = variant.recordSize
        guard !bytes.isEmpty, bytes.count % recordSize == 0 else {
            let whole = bytes.count / recordSize
            throw DataFormatError(.truncated, file: file, field: "record \(whole)", offset: whole * recordSize,
                                  "file size \(bytes.count) is not a multiple of the \(recordSize)-byte record; the last record is cut after \(bytes.count - whole * recordSize) bytes")
        }
        let count = bytes.count / recordSize
        let classCount = variant.classNames.count
        records.labels.reserveCapacity(records.labels.count + count)
        records.pixels.reserveCapacity(records.pixels.count + count * 3072)
        for record in 0..<count {
            let start = record * recordSize
            let labelOffset = start + variant.labelBytes - 1   // the fine label for CIFAR-100
            let label = Int(bytes[labelOffset])
            guard label < classCount else {
                throw DataFormatError(.labelOutOfRange, file: file, field: variant == .cifar10 ? "label of record \(record)" : "fine label of record \(record)",
                                      offset: labelOffset, "label \(label) is outside 0..<\(classCount)")
            }
            if variant == .cifar100, bytes[start] >= 20 {
                throw DataFormatError(.labelOutOfRange, file: file, field: "coarse label of record \(record)",
                                      offset: start, "label \(bytes[start]) is outside 0..<20")
            }
            records.labels.append(label)
            records.pixels.append(contentsOf: bytes[(start + variant.labelBytes)..<(start + recordSize)])
        }
    }

    private static func resolveFolder(_ folder: String, variant: Variant) -> String {
        let nested = "\(folder)/\(variant.tarballFolder)"
        let first = variant.splitFiles[0].files[0]
        if !FileManager.default.fileExists(atPath: "\(folder)/\(first)"), FileManager.default.fileExists(atPath: "\(nested)/\(first)") {
            return nested
        }
        return folder
    }
}
