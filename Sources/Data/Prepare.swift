import Foundation
import Shards

/// What `rat data prepare` does: decode a published layout, optionally carve a validation
/// split or cut a balanced subset, and write shards + manifest atomically.
public struct PrepareOptions: Sendable {
    public var format: SourceFormat
    public var source: String
    public var output: String
    /// Records moved from train to a `val` split (0 = none), chosen by `validationSeed`.
    public var validationCount: Int = 0
    public var validationSeed: UInt64 = 0
    /// Balanced subset: the first k records of each class, in source order (nil = everything).
    public var trainPerClass: Int?
    /// With a subset: the next k records of each class in the source train split become `val`.
    public var valPerClass: Int?
    public var testPerClass: Int?
    public var compressionLevel: Int = 3
    public var recordsPerShard: Int?
    public var overwrite: Bool = false

    public init(format: SourceFormat, source: String, output: String) {
        self.format = format
        self.source = source
        self.output = output
    }
}

public enum Preparation {
    @discardableResult
    public static func run(_ options: PrepareOptions) throws -> Manifest {
        try checkCounts(options)
        try checkOutput(options)
        var dataset = try options.format.load(options.source)
        var provenance = ["source": options.source, "source_format": options.format.rawValue]
        if options.trainPerClass != nil || options.valPerClass != nil || options.testPerClass != nil {
            dataset = try balancedSubset(dataset, trainPerClass: options.trainPerClass, valPerClass: options.valPerClass ?? 0,
                                         testPerClass: options.testPerClass, file: options.source)
            provenance["subset"] = "per class, in source order: first \(options.trainPerClass.map(String.init) ?? "all") train, next \(options.valPerClass ?? 0) train records as val, first \(options.testPerClass.map(String.init) ?? "all") test"
        }
        if options.validationCount > 0 {
            guard dataset.splits["val"] == nil else {
                throw DataFormatError(.invalidArgument, file: options.source, field: "--val", "the dataset already has a val split")
            }
            guard let train = dataset.splits["train"], options.validationCount < train.count else {
                throw DataFormatError(.invalidArgument, file: options.source, field: "--val",
                                      "\(options.validationCount) must be smaller than the train split (\(dataset.splits["train"]?.count ?? 0))")
            }
            let (rest, validation) = carveValidation(train, count: options.validationCount, seed: options.validationSeed,
                                                     pixelsPerRecord: dataset.pixelsPerRecord)
            dataset.splits["train"] = rest
            dataset.splits["val"] = validation
            provenance["validation"] = "\(options.validationCount) records drawn from train with seed \(options.validationSeed)"
        }
        return try write(dataset, sourceFormat: options.format.rawValue, to: options.output, compressionLevel: options.compressionLevel,
                         recordsPerShard: options.recordsPerShard, overwrite: options.overwrite, provenance: provenance)
    }

    /// Counts that would write nothing (or, for shards, silently one record per shard).
    static func checkCounts(_ options: PrepareOptions) throws {
        let positive: [(String, Int?)] = [("--records-per-shard", options.recordsPerShard), ("--train-per-class", options.trainPerClass),
                                          ("--test-per-class", options.testPerClass)]
        for (flag, value) in positive {
            if let value, value < 1 {
                throw DataFormatError(.invalidArgument, file: options.output, field: flag, "must be ≥ 1, it is \(value)")
            }
        }
        for (flag, value) in [("--val-per-class", options.valPerClass ?? 0), ("--val", options.validationCount)] where value < 0 {
            throw DataFormatError(.invalidArgument, file: options.output, field: flag, "must be ≥ 0, it is \(value)")
        }
    }

    /// The output may replace (with `overwrite`) only a folder that is a rat dataset — its
    /// manifest and the shards it lists, nothing else — and never the source, a folder inside
    /// it or one that holds it: nothing the user had besides an earlier dataset is deleted.
    static func checkOutput(_ options: PrepareOptions) throws {
        let fileManager = FileManager.default
        let output = absolute(options.output), source = absolute(options.source)
        if output == source || output.hasPrefix(source + "/") || source.hasPrefix(output + "/") {
            let relation = output == source ? "is" : output.hasPrefix(source + "/") ? "is inside" : "holds"
            throw DataFormatError(.invalidArgument, file: options.output, field: "output folder",
                                  "\(relation) the source folder '\(options.source)': write the dataset elsewhere")
        }
        var isFolder: ObjCBool = false
        guard fileManager.fileExists(atPath: options.output, isDirectory: &isFolder) else { return }
        guard options.overwrite else {
            throw DataFormatError(.invalidArgument, file: options.output, field: "output folder", "already exists (pass --force to replace it)")
        }
        guard isFolder.boolValue else {
            throw DataFormatError(.invalidArgument, file: options.output, field: "output folder",
                                  "is a file, not a dataset folder: --force replaces only a rat dataset")
        }
        let manifest: Manifest
        do { manifest = try Manifest.read(folder: options.output) } catch {
            throw DataFormatError(.invalidArgument, file: options.output, field: "output folder",
                                  "is not a rat dataset (\(error)): --force replaces only a folder holding a rat dataset's manifest.json and shards")
        }
        let known = Set([Manifest.fileName] + manifest.splits.values.flatMap { $0.shards.map(\.file) })
        let others = ((try? fileManager.contentsOfDirectory(atPath: options.output)) ?? []).filter { !known.contains($0) }.sorted()
        if !others.isEmpty {
            throw DataFormatError(.invalidArgument, file: options.output, field: "output folder",
                                  "holds files that are not part of its dataset (\(others.prefix(5).joined(separator: ", "))"
                                  + "\(others.count > 5 ? ", …" : "")): --force replaces only a folder holding nothing but a rat dataset")
        }
    }

    /// An absolute, symlink-free path with no trailing slash, for comparing folders.
    private static func absolute(_ path: String) -> String {
        let base = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        let resolved = URL(fileURLWithPath: base).standardizedFileURL.resolvingSymlinksInPath().path
        return resolved.count > 1 && resolved.hasSuffix("/") ? String(resolved.dropLast()) : resolved
    }

    /// Moves `count` records, chosen by a keyed permutation of `seed`, from `split` into a
    /// validation split. Both keep source order, so the result depends only on (data, count, seed).
    public static func carveValidation(_ split: SourceSplit, count: Int, seed: UInt64, pixelsPerRecord: Int) -> (train: SourceSplit, validation: SourceSplit) {
        let order = KeyedRandom.permutation(count: split.count, keys: seed, KeyedRandom.Stream.validationCarve.rawValue)
        var isValidation = [Bool](repeating: false, count: split.count)
        for index in order.prefix(count) { isValidation[index] = true }
        var train = SourceSplit(), validation = SourceSplit()
        for index in 0..<split.count {
            let image = split.pixels[(index * pixelsPerRecord)..<((index + 1) * pixelsPerRecord)]
            if isValidation[index] {
                validation.labels.append(split.labels[index]); validation.pixels.append(contentsOf: image)
            } else {
                train.labels.append(split.labels[index]); train.pixels.append(contentsOf: image)
            }
        }
        return (train, validation)
    }

    /// First `trainPerClass` records of each class (source order) → train, the next
    /// `valPerClass` of each class → val, first `testPerClass` of each class of test → test.
    /// Val never overlaps train or test: it comes from records of the source train split not taken.
    public static func balancedSubset(_ dataset: SourceDataset, trainPerClass: Int?, valPerClass: Int, testPerClass: Int?,
                                      file: String) throws -> SourceDataset {
        var result = dataset
        let classes = dataset.classNames.count
        let size = dataset.pixelsPerRecord
        func take(_ split: String, quotas: [Int]) throws -> [SourceSplit] {
            guard let source = dataset.splits[split] else {
                throw DataFormatError(.missingField, file: file, field: "\(split) split", "needed for the subset")
            }
            var outputs = [SourceSplit](repeating: SourceSplit(), count: quotas.count)
            var taken = [[Int]](repeating: [Int](repeating: 0, count: classes), count: quotas.count)
            for index in 0..<source.count {
                let label = source.labels[index]
                guard let target = quotas.indices.first(where: { taken[$0][label] < quotas[$0] }) else { continue }
                taken[target][label] += 1
                outputs[target].labels.append(label)
                outputs[target].pixels.append(contentsOf: source.pixels[(index * size)..<((index + 1) * size)])
            }
            for (target, quota) in quotas.enumerated() {
                if let short = (0..<classes).first(where: { taken[target][$0] < quota }) {
                    throw DataFormatError(.invalidArgument, file: file, field: "\(split) split",
                                          "class \(short) has too few records for the requested subset (\(quota) per class)")
                }
            }
            return outputs
        }
        let trainQuota = trainPerClass ?? Int.max
        let trainParts = try take("train", quotas: valPerClass > 0 ? [trainQuota, valPerClass] : [trainQuota])
        result.splits["train"] = trainParts[0]
        if valPerClass > 0 { result.splits["val"] = trainParts[1] }
        if let testPerClass { result.splits["test"] = try take("test", quotas: [testPerClass])[0] }
        return result
    }

    /// Writes every split and the manifest into a temporary sibling folder, then renames it to
    /// `output`, so a failure never leaves a half-written dataset behind.
    public static func write(_ dataset: SourceDataset, sourceFormat: String, to output: String, compressionLevel: Int = 3,
                             recordsPerShard: Int? = nil, overwrite: Bool = false, provenance: [String: String] = [:]) throws -> Manifest {
        let fileManager = FileManager.default
        let output = output.hasSuffix("/") && output.count > 1 ? String(output.dropLast()) : output
        let temporary = "\(output).partial-\(getpid())"
        try? fileManager.removeItem(atPath: temporary)
        do {
            try fileManager.createDirectory(atPath: temporary, withIntermediateDirectories: true)
        } catch {
            throw DataFormatError(.io, file: temporary, field: "output folder", "cannot create: \(error.localizedDescription)")
        }
        do {
            var splits: [String: SplitManifest] = [:]
            for (name, split) in dataset.splits.sorted(by: { $0.key < $1.key }) {
                let writer = ShardWriter(folder: temporary, datasetName: dataset.name, split: name, channels: dataset.channels,
                                         height: dataset.height, width: dataset.width, classNames: dataset.classNames,
                                         recordsPerShard: recordsPerShard, compressionLevel: compressionLevel)
                let size = dataset.pixelsPerRecord
                for index in 0..<split.count {
                    try writer.append(label: split.labels[index], pixels: split.pixels[(index * size)..<((index + 1) * size)])
                }
                splits[name] = try writer.finish()
            }
            let manifest = Manifest(name: dataset.name, sourceFormat: sourceFormat, channels: dataset.channels, height: dataset.height,
                                    width: dataset.width, classNames: dataset.classNames, splits: splits, provenance: provenance)
            try manifest.write(toFolder: temporary)
            try replace(output, with: temporary)
            return manifest
        } catch {
            try? fileManager.removeItem(atPath: temporary)
            throw error
        }
    }

    private static func replace(_ output: String, with temporary: String) throws {
        let fileManager = FileManager.default
        var old: String?
        if fileManager.fileExists(atPath: output) {
            let aside = "\(output).old-\(getpid())"
            guard rename(output, aside) == 0 else {
                throw DataFormatError(.io, file: output, field: "output folder", "cannot move the old dataset aside: \(String(cString: strerror(errno)))")
            }
            old = aside
        }
        guard rename(temporary, output) == 0 else {
            let reason = String(cString: strerror(errno))
            if let old { _ = rename(old, output) }
            throw DataFormatError(.io, file: output, field: "output folder", "cannot rename \(temporary) into place: \(reason)")
        }
        if let old { try? fileManager.removeItem(atPath: old) }
    }
}
