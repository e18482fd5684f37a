import ArgumentParser
import Data
import Foundation
import Loader
import Shards

/// `rat data …`: convert published datasets to shards and inspect prepared ones.
struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data",
        abstract: "Prepare and inspect zstd-compressed image shards.",
        subcommands: [Prepare.self, Inspect.self]
    )

    struct Prepare: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Convert a published dataset (CIFAR binary, SVHN .mat, MNIST-style IDX) into shards.")

        @Option(help: "Source layout: \(SourceFormat.allCases.map(\.rawValue).joined(separator: " | ")).")
        var format: String
        @Argument(help: "Folder holding the published files.")
        var source: String
        @Argument(help: "Output dataset folder (written atomically).")
        var output: String
        @Option(help: "Carve this many train records into a held-out val split.")
        var val: Int = 0
        @Option(help: "Seed of the val carve.")
        var valSeed: UInt64 = 0
        @Option(help: "Balanced subset: first N train records per class (source order).")
        var trainPerClass: Int?
        @Option(help: "Balanced subset: the next N train records per class become val.")
        var valPerClass: Int?
        @Option(help: "Balanced subset: first N test records per class.")
        var testPerClass: Int?
        @Option(help: "zstd level (3 is fast; 19 for committed copies).")
        var level: Int = 3
        @Option(help: "Records per shard (default: 64 MiB of pixels).")
        var recordsPerShard: Int?
        @Flag(help: "Replace an existing output folder.")
        var force = false

        func run() throws {
            guard let sourceFormat = SourceFormat(rawValue: format) else {
                throw ValidationError("unknown --format \(format); use one of \(SourceFormat.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            var options = PrepareOptions(format: sourceFormat, source: source, output: output)
            options.validationCount = val
            options.validationSeed = valSeed
            options.trainPerClass = trainPerClass
            options.valPerClass = valPerClass
            options.testPerClass = testPerClass
            options.compressionLevel = level
            options.recordsPerShard = recordsPerShard
            options.overwrite = force
            let manifest = try runReportingErrors { try Preparation.run(options) }
            print("prepared \(manifest.name) (\(manifest.channels)×\(manifest.height)×\(manifest.width), \(manifest.classCount) classes) in \(output)")
            for split in manifest.splitNames {
                let entry = manifest.splits[split]
                print("  \(split): \(entry?.count ?? 0) images in \(entry?.shards.count ?? 0) shard(s)")
            }
        }
    }

    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print splits, counts, shape, label histogram, pixel statistics and checksum status.")

        @Argument(help: "Prepared dataset folder.")
        var folder: String
        @Flag(help: "Print one JSON object.")
        var json = false

        struct SplitReport: Encodable {
            var count: Int
            var shape: [Int]
            var classes: Int
            var labelHistogram: [Int]?
            var channelMean: [Double]?
            var channelStd: [Double]?
            var checksumOk: Bool
            var error: String?
            enum CodingKeys: String, CodingKey {
                case count, shape, classes, error
                case labelHistogram = "label_histogram", channelMean = "channel_mean", channelStd = "channel_std"
                case checksumOk = "checksum_ok"
            }
        }

        struct Report: Encodable {
            var format: String
            var name: String
            var classNames: [String]
            var splits: [String: SplitReport]
            enum CodingKeys: String, CodingKey {
                case format, name, splits
                case classNames = "class_names"
            }
        }

        func run() throws {
            let dataset = try runReportingErrors { try Dataset.open(folder) }
            var report = Report(format: dataset.manifest.sourceFormat, name: dataset.name, classNames: dataset.classNames, splits: [:])
            var failures: [String] = []
            let shape = [dataset.channels, dataset.height, dataset.width]
            for name in dataset.splitNames {
                let listed = dataset.manifest.splits[name]?.count ?? 0
                do {
                    let split = try dataset.split(name)
                    let stats = split.channelStatistics()
                    report.splits[name] = SplitReport(count: split.count, shape: shape, classes: dataset.classCount,
                                                      labelHistogram: split.labelHistogram(), channelMean: stats.mean,
                                                      channelStd: stats.std, checksumOk: true)
                } catch {
                    failures.append("\(error)")
                    report.splits[name] = SplitReport(count: listed, shape: shape, classes: dataset.classCount, checksumOk: false,
                                                      error: "\(error)")
                }
            }
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
                print(String(decoding: try encoder.encode(report), as: UTF8.self))
            } else {
                print("\(dataset.name) (from \(report.format)) at \(folder)")
                print("  image shape C×H×W: \(shape.map(String.init).joined(separator: "×")), uint8; \(dataset.classCount) classes")
                for name in dataset.splitNames {
                    guard let split = report.splits[name] else { continue }
                    print("  \(name): \(split.count) images, checksum \(split.checksumOk ? "ok" : "FAILED")")
                    if let histogram = split.labelHistogram {
                        let pairs = zip(dataset.classNames, histogram).map { "\($0)=\($1)" }
                        print("    labels: \(pairs.joined(separator: ", "))")
                    }
                    if let mean = split.channelMean, let std = split.channelStd {
                        print("    channel mean: \(mean.map { String(format: "%.4f", $0) }.joined(separator: ", "))")
                        print("    channel std:  \(std.map { String(format: "%.4f", $0) }.joined(separator: ", "))")
                    }
                }
            }
            if !failures.isEmpty {
                for failure in failures { printError("error: " + failure) }
                throw ExitCode(1)
            }
        }
    }
}


/// Prints a data error as `error: <file>: <field> at byte offset N: <problem>` and exits 1.
private func runReportingErrors<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let error as DataFormatError {
        printError("error: " + error.description)
        throw ExitCode(1)
    }
}
