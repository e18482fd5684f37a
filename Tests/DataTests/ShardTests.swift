import Foundation
import Loader
import Shards
import Testing

/// Writes a small 3×4×5 dataset split over several shards and returns (folder, labels, pixels).
private func writeSmallDataset(records: Int = 23, perShard: Int = 10) throws -> (String, [Int], [UInt8]) {
    let folder = try Fixtures.temporaryFolder()
    let labels = (0..<records).map { ($0 * 7) % 3 }
    let pixels = Fixtures.bytes(records * 60, seed: 1)
    let writer = ShardWriter(folder: folder, datasetName: "tiny", split: "train", channels: 3, height: 4, width: 5,
                             classNames: ["a", "b", "c"], recordsPerShard: perShard)
    for i in 0..<records { try writer.append(label: labels[i], pixels: pixels[(i * 60)..<((i + 1) * 60)]) }
    let entry = try writer.finish()
    try Manifest(name: "tiny", sourceFormat: "synthetic", channels: 3, height: 4, width: 5, classNames: ["a", "b", "c"],
                 splits: ["train": entry]).write(toFolder: folder)
    return (folder, labels, pixels)
}

@Test func shardRoundTripAcrossSeveralShards() throws {
    let (folder, labels, pixels) = try writeSmallDataset()
    let dataset = try Dataset.open(folder)
    #expect(dataset.manifest.splits["train"]?.shards.count == 3)
    #expect(dataset.classNames == ["a", "b", "c"])
    let split = try dataset.split("train")
    #expect(split.count == 23)
    #expect(split.labels == labels.map(Int32.init))
    #expect(split.pixels == pixels)
    let header = try ShardReader.header("\(folder)/train-00002.ratshard")
    #expect(header.recordCount == 3 && header.shardIndex == 2 && header.split == "train" && header.datasetName == "tiny")
}

@Test func headerEncodingRoundTrips() throws {
    let header = ShardHeader(datasetName: "d", split: "val", channels: 3, height: 32, width: 32, recordCount: 2,
                             classCount: 2, classNames: ["cat", "dög"], shardIndex: 4, payloadSize: 4 + 2 * 3072,
                             compressedSize: 99, payloadCRC: 0xDEAD_BEEF)
    let bytes = header.encoded()
    #expect(Array(bytes[0..<8]) == Array("RATSHARD".utf8))
    let (decoded, size) = try ShardHeader.decode(bytes, file: "h")
    #expect(decoded == header)
    #expect(size == bytes.count)
}

@Test func unknownSplitListsAvailableOnes() throws {
    let (folder, _, _) = try writeSmallDataset()
    let dataset = try Dataset.open(folder)
    do {
        _ = try dataset.split("test")
        Issue.record("expected an error")
    } catch let error as DataFormatError {
        #expect(error.kind == .missingField)
        #expect(error.description.contains("available: train"))
    }
}

@Test func wrongMagicIsReported() throws {
    let (folder, _, _) = try writeSmallDataset()
    let path = "\(folder)/train-00001.ratshard"
    var bytes = try FileBytes.read(path)
    bytes[0] = UInt8(ascii: "X")
    try FileBytes.write(bytes, to: path)
    expectDataError(.badMagic, mentioning: "train-00001.ratshard", needsOffset: true) { _ = try Dataset.open(folder).split("train") }
}

@Test func truncatedShardIsReported() throws {
    let (folder, _, _) = try writeSmallDataset()
    let path = "\(folder)/train-00000.ratshard"
    let bytes = try FileBytes.read(path)
    try FileBytes.write(Array(bytes.dropLast(7)), to: path)
    expectDataError(.truncated, mentioning: "train-00000.ratshard", needsOffset: true) { _ = try Dataset.open(folder).split("train") }
    try FileBytes.write(Array(bytes.prefix(30)), to: path)
    expectDataError(.truncated, mentioning: "train-00000.ratshard", needsOffset: true) { _ = try ShardReader().load(path) }
}

@Test func payloadChecksumMismatchIsReported() throws {
    let (folder, _, _) = try writeSmallDataset()
    let path = "\(folder)/train-00001.ratshard"
    let bytes = try FileBytes.read(path)
    // Re-encode a header (with a valid header CRC) whose payload CRC is wrong.
    var (header, size) = try ShardHeader.decode(bytes, file: path)
    header.payloadCRC ^= 1
    try FileBytes.write(header.encoded() + bytes[size...], to: path)
    expectDataError(.checksumMismatch, mentioning: "train-00001.ratshard", needsOffset: true) { _ = try ShardReader().load(path) }
    // Through the manifest, the disagreement with the manifest's CRC is caught first.
    expectDataError(.checksumMismatch, mentioning: "train-00001.ratshard") { _ = try Dataset.open(folder).split("train") }
}

@Test func damagedHeaderOrPayloadNeverCrashes() throws {
    let (folder, _, _) = try writeSmallDataset()
    let path = "\(folder)/train-00000.ratshard"
    let original = try FileBytes.read(path)
    var headerDamaged = original
    headerDamaged[20] ^= 0xFF   // height
    try FileBytes.write(headerDamaged, to: path)
    expectDataError(.checksumMismatch, mentioning: "train-00000.ratshard", needsOffset: true) { _ = try ShardReader().load(path) }
    // Flip bytes across the compressed payload: every outcome must be an error, never a crash.
    let payloadStart = try ShardHeader.decode(original, file: path).headerSize
    for position in stride(from: payloadStart + 16, to: original.count, by: 97) {
        var damaged = original
        damaged[position] ^= 0x5A
        try FileBytes.write(damaged, to: path)
        #expect(throws: DataFormatError.self) { try ShardReader().load(path) }
    }
}

@Test func manifestErrorsNameTheField() throws {
    let (folder, _, _) = try writeSmallDataset()
    let path = "\(folder)/manifest.json"
    let text = String(decoding: try FileBytes.read(path), as: UTF8.self)
    try FileBytes.write(text.replacingOccurrences(of: "\"count\" : 23", with: "\"count\" : 24"), to: path)
    expectDataError(.wrongDimensions, mentioning: "manifest.json") { _ = try Dataset.open(folder) }
    try FileBytes.write(text.replacingOccurrences(of: "\"class_count\"", with: "\"klass_count\""), to: path)
    expectDataError(.missingField, mentioning: "manifest.json") { _ = try Dataset.open(folder) }
    try FileManager.default.removeItem(atPath: "\(folder)/train-00002.ratshard")
    try FileBytes.write(text, to: path)
    expectDataError(.missingField, mentioning: "train-00002.ratshard") { _ = try Dataset.open(folder) }
}

@Test func writerRejectsOutOfRangeLabels() throws {
    let folder = try Fixtures.temporaryFolder()
    let writer = ShardWriter(folder: folder, datasetName: "x", split: "train", channels: 1, height: 2, width: 2, classNames: ["a", "b"])
    expectDataError(.labelOutOfRange, mentioning: "train-00000.ratshard") { try writer.append(label: 2, pixels: [0, 0, 0, 0]) }
    expectDataError(.wrongDimensions, mentioning: "train-00000.ratshard") { try writer.append(label: 1, pixels: [0, 0, 0]) }
}

@Test func crc32MatchesTheStandardCheckValue() {
    #expect(Checksum.crc32(Array("123456789".utf8)) == 0xCBF4_3926)
    #expect(Checksum.hex(0xAB) == "000000ab")
}
