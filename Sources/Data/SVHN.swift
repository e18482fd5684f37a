import Foundation
import Shards

/// SVHN cropped digits (http://ufldl.stanford.edu/housenumbers/): `train_32x32.mat`,
/// `test_32x32.mat` and optionally `extra_32x32.mat`, MATLAB v5 files holding
/// `X` uint8 [32 rows][32 cols][3][N] column-major and `y` [N][1] with labels 1…10, where
/// 10 stands for the digit 0.
public enum SVHN {
    static let splitFiles = [("train", "train_32x32.mat", true), ("test", "test_32x32.mat", true), ("extra", "extra_32x32.mat", false)]

    public static func load(folder: String) throws -> SourceDataset {
        var splits: [String: SourceSplit] = [:]
        for (split, name, required) in splitFiles {
            let path = "\(folder)/\(name)"
            guard FileManager.default.fileExists(atPath: path) else {
                if required {
                    throw DataFormatError(.missingField, file: path, field: "file", "missing; an SVHN folder holds train_32x32.mat and test_32x32.mat")
                }
                continue
            }
            splits[split] = try decode(path)
        }
        return SourceDataset(name: "svhn", channels: 3, height: 32, width: 32, classNames: ClassNames.digits, splits: splits)
    }

    /// Decodes one SVHN .mat file into [N][C][H][W] pixels and 0…9 labels.
    public static func decode(_ path: String) throws -> SourceSplit {
        let variables = try MAT5.read(path)
        guard let x = variables["X"] else {
            throw DataFormatError(.missingField, file: path, field: "variable X",
                                  "not found; variables present: \(variables.keys.sorted().joined(separator: ", "))")
        }
        guard let y = variables["y"] else {
            throw DataFormatError(.missingField, file: path, field: "variable y",
                                  "not found; variables present: \(variables.keys.sorted().joined(separator: ", "))")
        }
        let dims = x.dimensions
        guard dims.count == 4, dims[0] == 32, dims[1] == 32, dims[2] == 3 else {
            throw DataFormatError(.wrongDimensions, file: path, field: "X dimensions (\(x.location))",
                                  "\(dims.map(String.init).joined(separator: "×")), expected 32×32×3×N")
        }
        let count = dims[3]
        guard y.elementCount == count, y.dimensions.count == 2, y.dimensions.contains(1) || count == 0 else {
            throw DataFormatError(.wrongDimensions, file: path, field: "y dimensions (\(y.location))",
                                  "\(y.dimensions.map(String.init).joined(separator: "×")), expected \(count)×1 to match X")
        }
        let raw = try y.integerValues(field: "y")
        var labels: [Int] = []
        labels.reserveCapacity(count)
        for (index, value) in raw.enumerated() {
            guard (1...10).contains(value) else {
                throw DataFormatError(.labelOutOfRange, file: path, field: "y[\(index)] (\(y.location))",
                                      "label \(value) is outside 1…10 (10 means digit 0)")
            }
            labels.append(value == 10 ? 0 : value)
        }
        // Column-major X[h, w, c, n] sits at h + 32·w + 1024·c + 3072·n; we store [n][c][h][w].
        // uint8 storage (the published files) is transposed in place, without an extra copy of X.
        let source = x.storedType == .uint8 ? x.data : try x.uint8Values(field: "X")
        let base = x.storedType == .uint8 ? x.dataRange.lowerBound : 0
        var pixels = [UInt8](repeating: 0, count: count * 3072)   // [N][3][32][32]
        source.withUnsafeBufferPointer { whole in
            let input = UnsafeBufferPointer(rebasing: whole[base..<(base + count * 3072)])
            pixels.withUnsafeMutableBufferPointer { output in
                for n in 0..<count {
                    for c in 0..<3 {
                        let planeIn = 3072 * n + 1024 * c
                        let planeOut = 3072 * n + 1024 * c
                        for h in 0..<32 {
                            for w in 0..<32 {
                                output[planeOut + 32 * h + w] = input[planeIn + h + 32 * w]
                            }
                        }
                    }
                }
            }
        }
        return SourceSplit(labels: labels, pixels: pixels)
    }
}
