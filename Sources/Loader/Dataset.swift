import Foundation
import Shards

/// An opened prepared dataset folder: its manifest, with shards read on demand per split.
public struct Dataset: Sendable {
    public var folder: String
    public var manifest: Manifest
    public var name: String { manifest.name }
    public var channels: Int { manifest.channels }
    public var height: Int { manifest.height }
    public var width: Int { manifest.width }
    public var classCount: Int { manifest.classCount }
    public var classNames: [String] { manifest.classNames }
    /// train, val, test first, then any others.
    public var splitNames: [String] { manifest.splitNames }

    /// Reads and validates `<folder>/manifest.json` and checks that every shard file exists.
    /// Errors name the file and the field.
    public static func open(_ folder: String) throws -> Dataset {
        let manifest = try Manifest.read(folder: folder)
        for split in manifest.splitNames {
            for shard in manifest.splits[split]?.shards ?? [] where !FileManager.default.fileExists(atPath: "\(folder)/\(shard.file)") {
                throw DataFormatError(.missingField, file: "\(folder)/\(shard.file)", field: "shard of split \(split)",
                                      "listed in \(folder)/\(Manifest.fileName) but missing")
            }
        }
        return Dataset(folder: folder, manifest: manifest)
    }

    /// Decodes one split into memory, verifying every shard's checksum and its agreement with
    /// the manifest. Unknown names list the splits that exist.
    public func split(_ splitName: String) throws -> SplitData {
        guard let entry = manifest.splits[splitName] else {
            throw DataFormatError(.missingField, file: "\(folder)/\(Manifest.fileName)", field: "splits.\(splitName)",
                                  "no such split; available: \(splitNames.joined(separator: ", "))")
        }
        let pixelsPerImage = channels * height * width
        var labels: [Int32] = []                 // [N]
        var pixels: [UInt8] = []                 // [N][C][H][W]
        labels.reserveCapacity(entry.count)
        pixels.reserveCapacity(entry.count * pixelsPerImage)
        let reader = ShardReader()
        for (index, shard) in entry.shards.enumerated() {
            let path = "\(folder)/\(shard.file)"
            let header = try reader.load(path, expectedCRC: UInt32(shard.crc32, radix: 16))
            func disagree(_ field: String, _ offset: Int, _ shardValue: String, _ manifestValue: String) -> DataFormatError {
                DataFormatError(.wrongDimensions, file: path, field: field, offset: offset,
                                "shard says \(shardValue), manifest says \(manifestValue)")
            }
            guard header.channels == channels, header.height == height, header.width == width else {
                throw disagree("image shape", 16, "\(header.channels)×\(header.height)×\(header.width)", "\(channels)×\(height)×\(width)")
            }
            guard header.recordCount == shard.count else { throw disagree("record count", 28, "\(header.recordCount)", "\(shard.count)") }
            guard header.classCount == classCount else { throw disagree("class count", 32, "\(header.classCount)", "\(classCount)") }
            guard header.split == splitName, header.shardIndex == index else {
                throw disagree("split / shard index", 36, "\(header.split) #\(header.shardIndex)", "\(splitName) #\(index)")
            }
            let payload = reader.payload
            for record in 0..<header.recordCount {
                let label = Int32(payload[2 * record]) | Int32(payload[2 * record + 1]) << 8
                guard label < classCount else {
                    throw DataFormatError(.labelOutOfRange, file: path, field: "label of record \(record)",
                                          "label \(label) is outside 0..<\(classCount) (decompressed payload byte \(2 * record))")
                }
                labels.append(label)
            }
            pixels.append(contentsOf: payload[header.labelBytes...])
        }
        return SplitData(name: splitName, channels: channels, height: height, width: width, classCount: classCount,
                         uncheckedLabels: labels, pixels: pixels)
    }

    /// Finds a dataset committed under `datasets/<name>` without any setup: `$RAT_DATASETS`,
    /// then `datasets/` in the working directory and its parents, then next to the executable's
    /// ancestors (so `.build/release/rat` finds the repository's copy).
    public static func locateEmbedded(_ name: String = "fashion-mnist-small") -> String? {
        var roots: [String] = []
        if let custom = ProcessInfo.processInfo.environment["RAT_DATASETS"] { roots.append(custom) }
        var directories = [FileManager.default.currentDirectoryPath]
        directories.append(URL(fileURLWithPath: CommandLine.arguments.first ?? ".").resolvingSymlinksInPath().deletingLastPathComponent().path)
        for start in directories {
            var url = URL(fileURLWithPath: start)
            for _ in 0..<6 {
                roots.append(url.appendingPathComponent("datasets").path)
                url.deleteLastPathComponent()
            }
        }
        return roots.map { "\($0)/\(name)" }.first { FileManager.default.fileExists(atPath: "\($0)/\(Manifest.fileName)") }
    }

    /// Opens the embedded default dataset (Fashion-MNIST, 10,000 / 1,000 / 2,000).
    public static func openEmbedded(_ name: String = "fashion-mnist-small") throws -> Dataset {
        guard let folder = locateEmbedded(name) else {
            throw DataFormatError(.missingField, file: "datasets/\(name)", field: "embedded dataset",
                                  "not found in $RAT_DATASETS, the working directory or its parents")
        }
        return try open(folder)
    }
}

/// One split decoded into memory (at 32×32×3 uint8, even SVHN train is 225 MB).
public struct SplitData: Sendable {
    public var name: String
    public var channels: Int
    public var height: Int
    public var width: Int
    public var classCount: Int
    public var labels: [Int32]   // [N], each in 0..<classCount
    public var pixels: [UInt8]   // [N][C][H][W]

    public var count: Int { labels.count }
    public var pixelsPerImage: Int { channels * height * width }

    /// Builds a split from memory (synthetic data, tests); validates sizes and labels.
    public init(name: String, channels: Int, height: Int, width: Int, classCount: Int, labels: [Int32], pixels: [UInt8]) throws {
        guard channels > 0, height > 0, width > 0, pixels.count == labels.count * channels * height * width else {
            throw DataFormatError(.wrongDimensions, file: "<memory>", field: "pixels of split \(name)",
                                  "\(pixels.count) bytes for \(labels.count) images of \(channels)×\(height)×\(width)")
        }
        if let bad = labels.firstIndex(where: { $0 < 0 || $0 >= classCount }) {
            throw DataFormatError(.labelOutOfRange, file: "<memory>", field: "label \(bad) of split \(name)",
                                  "label \(labels[bad]) is outside 0..<\(classCount)")
        }
        self.init(name: name, channels: channels, height: height, width: width, classCount: classCount, uncheckedLabels: labels, pixels: pixels)
    }

    init(name: String, channels: Int, height: Int, width: Int, classCount: Int, uncheckedLabels: [Int32], pixels: [UInt8]) {
        self.name = name
        self.channels = channels
        self.height = height
        self.width = width
        self.classCount = classCount
        self.labels = uncheckedLabels
        self.pixels = pixels
    }

    /// Images per class, indexed by label.
    public func labelHistogram() -> [Int] {
        var histogram = [Int](repeating: 0, count: classCount)
        for label in labels { histogram[Int(label)] += 1 }
        return histogram
    }

    /// Per-channel mean and (population) standard deviation of pixels on the [0, 1] scale.
    /// Sums are exact integers, so the result does not depend on summation order.
    public func channelStatistics() -> (mean: [Double], std: [Double]) {
        let plane = height * width
        var sums = [UInt64](repeating: 0, count: channels)
        var squares = [UInt64](repeating: 0, count: channels)
        pixels.withUnsafeBufferPointer { buffer in
            for image in 0..<count {
                for channel in 0..<channels {
                    let start = (image * channels + channel) * plane
                    var sum: UInt64 = 0, square: UInt64 = 0
                    for value in buffer[start..<(start + plane)] {
                        sum &+= UInt64(value)
                        square &+= UInt64(value) * UInt64(value)
                    }
                    sums[channel] &+= sum
                    squares[channel] &+= square
                }
            }
        }
        let n = Double(max(1, count * plane))
        let mean = sums.map { Double($0) / n / 255 }
        let std = zip(sums, squares).map { sum, square -> Double in
            let m = Double(sum) / n
            return (max(0, Double(square) / n - m * m)).squareRoot() / 255
        }
        return (mean, std)
    }
}

extension SplitData {
    /// Moves `count` images, chosen by a keyed permutation of `seed`, into a new split named
    /// `name`; both keep their source order, so the result depends only on (data, count, seed).
    /// The same rule as `rat data prepare --val`.
    public func carving(_ count: Int, as name: String, seed: UInt64) throws -> (rest: SplitData, carved: SplitData) {
        guard count > 0, count < self.count else {
            throw DataFormatError(.invalidArgument, file: "<split \(self.name)>", field: "validation carve-out",
                                  "cannot carve \(count) of \(self.count) images")
        }
        let order = KeyedRandom.permutation(count: self.count, keys: seed, KeyedRandom.Stream.validationCarve.rawValue)
        var chosen = [Bool](repeating: false, count: self.count)
        for index in order.prefix(count) { chosen[index] = true }
        var rest = self, carved = self
        carved.name = name
        (rest.labels, rest.pixels, carved.labels, carved.pixels) = ([], [], [], [])
        let size = pixelsPerImage
        for index in 0..<self.count {
            let image = pixels[(index * size)..<((index + 1) * size)]
            if chosen[index] { carved.labels.append(labels[index]); carved.pixels.append(contentsOf: image) }
            else { rest.labels.append(labels[index]); rest.pixels.append(contentsOf: image) }
        }
        return (rest, carved)
    }
}
