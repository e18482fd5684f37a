import Foundation
import Testing

/// A CIFAR-10 binary distribution of two records per batch file (labels 0…9 cycling).
private func cifarSource(in folder: String) throws -> String {
    let source = folder + "/cifar-source"
    try FileManager.default.createDirectory(atPath: source, withIntermediateDirectories: true)
    let names = (1...5).map { "data_batch_\($0).bin" } + ["test_batch.bin"]
    for (file, name) in names.enumerated() {
        var bytes = [UInt8]()
        for record in 0..<2 {
            bytes.append(UInt8((file * 2 + record) % 10))
            bytes += [UInt8](repeating: UInt8(file * 16 + record), count: 3072)
        }
        try Data(bytes).write(to: URL(fileURLWithPath: source + "/" + name))
    }
    return source
}

private func prepare(_ source: String, _ output: String, _ extra: [String] = []) -> Int32 {
    rat(["data", "prepare", "--format", "cifar10", source, output] + extra)
}

@Test("prepare --force replaces a rat dataset, and nothing else")
func forceReplacesOnlyDatasets() throws {
    let folder = temporaryFolder("prepare")
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let source = try cifarSource(in: folder)
    let output = folder + "/shards"
    #expect(prepare(source, output) == 0)
    #expect(exists(output + "/manifest.json"))
    #expect(prepare(source, output) == 1, "an existing folder needs --force")
    #expect(prepare(source, output, ["--force", "--records-per-shard", "3"]) == 0, "a rat dataset is replaced")
    #expect(exists(output + "/train-00003.ratshard"), "the replacement was written (10 train records, 3 per shard)")

    // A folder of other files is never deleted, nor a dataset with a file added to it.
    let other = folder + "/notes"
    try FileManager.default.createDirectory(atPath: other, withIntermediateDirectories: true)
    try "keep me".write(toFile: other + "/notes.txt", atomically: true, encoding: .utf8)
    #expect(prepare(source, other, ["--force"]) == 1)
    #expect(exists(other + "/notes.txt"))
    try "mine".write(toFile: output + "/README.md", atomically: true, encoding: .utf8)
    #expect(prepare(source, output, ["--force"]) == 1)
    #expect(exists(output + "/README.md") && exists(output + "/train-00003.ratshard"))
}

@Test("prepare refuses the source itself, a folder inside it or one holding it, even with --force")
func sourceIsNeverTheOutput() throws {
    let folder = temporaryFolder("prepare-source")
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let source = try cifarSource(in: folder)
    #expect(prepare(source, source, ["--force"]) == 1)
    #expect(prepare(source, source + "/", ["--force"]) == 1)
    #expect(prepare(source, source + "/shards", ["--force"]) == 1)
    #expect(prepare(source, folder, ["--force"]) == 1)
    #expect(exists(source + "/data_batch_1.bin") && exists(source + "/test_batch.bin"))
    #expect(!exists(source + "/shards"))
}

@Test("prepare refuses counts that would write nothing: --records-per-shard 0, --train-per-class 0")
func zeroCountsAreRefused() throws {
    let folder = temporaryFolder("prepare-zero")
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let source = try cifarSource(in: folder)
    #expect(prepare(source, folder + "/a", ["--records-per-shard", "0"]) == 1)
    #expect(prepare(source, folder + "/b", ["--train-per-class", "0"]) == 1)
    #expect(prepare(source, folder + "/c", ["--test-per-class", "0"]) == 1)
    #expect(!exists(folder + "/a") && !exists(folder + "/b") && !exists(folder + "/c"))
    #expect(prepare(source, folder + "/d", ["--train-per-class", "1"]) == 0)
}

@Test("a failed prepare --force keeps the dataset it would have replaced")
func failedReplacementKeepsTheOldDataset() throws {
    let folder = temporaryFolder("prepare-fail")
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let source = try cifarSource(in: folder)
    let output = folder + "/shards"
    #expect(prepare(source, output) == 0)
    let manifest = try Data(contentsOf: URL(fileURLWithPath: output + "/manifest.json"))
    // A truncated batch file: the conversion fails after the output was accepted.
    try Data([1, 2, 3]).write(to: URL(fileURLWithPath: source + "/test_batch.bin"))
    #expect(prepare(source, output, ["--force"]) == 1)
    #expect(try Data(contentsOf: URL(fileURLWithPath: output + "/manifest.json")) == manifest)
    let leftovers = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasPrefix("shards.") }
    #expect(leftovers.isEmpty, "no temporary folder is left: \(leftovers)")
}
