import Data
import Foundation
import Loader
import Shards
import Testing

/// 50 images of 2×6×5 whose first pixel encodes their index (for order checks).
private func syntheticSplit(count: Int = 50) throws -> SplitData {
    var pixels = Fixtures.bytes(count * 60, seed: 21).map { max($0, 1) }   // [N][2][6][5], no zeros
    for i in 0..<count { pixels[i * 60] = UInt8(i) }
    return try SplitData(name: "train", channels: 2, height: 6, width: 5, classCount: 10,
                         labels: (0..<count).map { Int32($0 % 10) }, pixels: pixels)
}

@Test func sameSeedGivesSameBatchesAndEpochsDiffer() throws {
    let split = try syntheticSplit()
    let make = { BatchLoader(split: split, batchSize: 8, seed: 42, augmentation: .cifar, prefetch: false) }
    let a = Array(make().batches(epoch: 3)), b = Array(make().batches(epoch: 3))
    #expect(a.map(\.images) == b.map(\.images))
    #expect(a.map(\.labels) == b.map(\.labels))
    let other = Array(make().batches(epoch: 4))
    #expect(a.flatMap(\.sampleIndices) != other.flatMap(\.sampleIndices))
    let otherSeed = Array(BatchLoader(split: split, batchSize: 8, seed: 43, prefetch: false).batches(epoch: 3))
    #expect(a.flatMap(\.sampleIndices) != otherSeed.flatMap(\.sampleIndices))
}

@Test func everySampleOncePerEpochAndDropLast() throws {
    let split = try syntheticSplit()
    let keep = BatchLoader(split: split, batchSize: 8, seed: 1, dropLast: false)
    #expect(keep.batchesPerEpoch == 7)
    let batches = Array(keep.batches(epoch: 0))
    #expect(batches.count == 7 && batches.last?.count == 2)
    #expect(batches.flatMap(\.sampleIndices).sorted() == Array(0..<50))
    #expect(batches.enumerated().allSatisfy { $0.offset == $0.element.index && $0.element.epoch == 0 })
    let drop = BatchLoader(split: split, batchSize: 8, seed: 1, dropLast: true)
    #expect(drop.batchesPerEpoch == 6)
    let dropped = Array(drop.batches(epoch: 0))
    #expect(dropped.count == 6 && dropped.allSatisfy { $0.count == 8 })
}

@Test func batchesCarryTheRightImagesAndLabels() throws {
    let split = try syntheticSplit()
    let loader = BatchLoader(split: split, batchSize: 16, seed: 5, prefetch: false)
    for batch in loader.batches(epoch: 2) {
        #expect(batch.images.count == batch.count * 60)
        for (slot, sample) in batch.sampleIndices.enumerated() {
            #expect(batch.labels[slot] == split.labels[sample])
            let expected = split.pixels[(sample * 60)..<((sample + 1) * 60)].map { Float($0) / 255 }
            #expect(Array(batch.images[(slot * 60)..<((slot + 1) * 60)]) == expected)
        }
    }
}

@Test func prefetchAndResumeGiveIdenticalBatches() throws {
    let split = try syntheticSplit()
    let plain = BatchLoader(split: split, batchSize: 6, seed: 9, augmentation: .cifar, prefetch: false)
    let prefetched = BatchLoader(split: split, batchSize: 6, seed: 9, augmentation: .cifar, prefetch: true, prefetchDepth: 2)
    let reference = Array(plain.batches(epoch: 7))
    #expect(Array(prefetched.batches(epoch: 7)).map(\.images) == reference.map(\.images))
    let resumed = Array(prefetched.batches(epoch: 7, startingAt: 4))
    #expect(resumed.map(\.index) == Array(4..<reference.count))
    #expect(resumed.map(\.images) == reference.suffix(from: 4).map(\.images))
    #expect(plain.batch(epoch: 7, index: 5).sampleIndices == reference[5].sampleIndices)
    // Abandoning a prefetching iterator early stops its thread without hanging.
    let iterator = prefetched.batches(epoch: 8).makeIterator()
    #expect(iterator.next()?.index == 0)
}

@Test func augmentationStaysInBoundsAndIsAShiftOrFlip() throws {
    let split = try syntheticSplit()
    let padding = 2
    let loader = BatchLoader(split: split, batchSize: 50, seed: 3, augmentation: Augmentation(cropPadding: padding, horizontalFlip: true),
                             prefetch: false)
    var sawFlip = false, sawShift = false
    for epoch in 0..<3 {
        let batch = loader.batch(epoch: epoch, index: 0)
        #expect(batch.images.allSatisfy { $0 >= 0 && $0 <= 1 })
        for (slot, sample) in batch.sampleIndices.enumerated() {
            let choice = loader.augmentation.choice(seed: 3, epoch: epoch, sample: sample)
            #expect(abs(choice.shiftX) <= padding && abs(choice.shiftY) <= padding)
            sawFlip = sawFlip || choice.flip
            sawShift = sawShift || choice.shiftX != 0 || choice.shiftY != 0
            // Rebuild the expected image independently: zero padding, shift, then mirror.
            for c in 0..<2 { for y in 0..<6 { for x in 0..<5 {
                let sx = (choice.flip ? 4 - x : x) + choice.shiftX, sy = y + choice.shiftY
                let expected: Float = (0..<5).contains(sx) && (0..<6).contains(sy)
                    ? Float(split.pixels[sample * 60 + c * 30 + sy * 5 + sx]) / 255 : 0
                #expect(batch.images[slot * 60 + c * 30 + y * 5 + x] == expected)
            } } }
        }
    }
    #expect(sawFlip && sawShift)
    // Flip off (the digit default): never mirrored.
    let noFlip = Augmentation(cropPadding: 4)
    #expect((0..<500).allSatisfy { !noFlip.choice(seed: 1, epoch: 0, sample: $0).flip })
    #expect(Augmentation().isIdentity)
}

@Test func embeddedDatasetLoadsWithoutSetup() throws {
    // The repository root, found from this file's location (Tests/DataTests/…).
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    let dataset = try Dataset.open("\(root)/datasets/fashion-mnist-small")
    // `swift test` runs from the package root, where the lookup needs no configuration.
    #expect(try Dataset.openEmbedded().manifest == dataset.manifest)
    #expect(dataset.name == "fashion-mnist" && dataset.classCount == 10)
    #expect([dataset.channels, dataset.height, dataset.width] as [Int] == [1, 28, 28])
    let expected = ["train": 1000, "val": 100, "test": 200]
    for (name, perClass) in expected {
        let split = try dataset.split(name)
        #expect(split.labelHistogram() == [Int](repeating: perClass, count: 10), "\(name)")
    }
    // val is disjoint from train (no image appears in both).
    let train = try dataset.split("train"), val = try dataset.split("val")
    let trainImages = Set((0..<train.count).map { train.pixels[($0 * 784)..<(($0 + 1) * 784)] })
    #expect((0..<val.count).allSatisfy { !trainImages.contains(val.pixels[($0 * 784)..<(($0 + 1) * 784)]) })
    let batch = BatchLoader(split: train, batchSize: 128, seed: 0).batches(epoch: 0).first { _ in true }
    #expect(batch?.images.count == 128 * 784)
}

@Test(.enabled(if: FileManager.default.fileExists(atPath: "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")))
func debianFashionMNISTConvertsFully() throws {
    let output = try Fixtures.temporaryFolder() + "/fashion-mnist"
    try Preparation.run(PrepareOptions(format: .fashionMNIST, source: "/usr/share/datasets/fashion-mnist", output: output))
    let dataset = try Dataset.open(output)
    let train = try dataset.split("train"), test = try dataset.split("test")
    #expect(train.count == 60_000 && test.count == 10_000)
    #expect(train.labelHistogram() == [Int](repeating: 6000, count: 10))
    #expect(test.labelHistogram() == [Int](repeating: 1000, count: 10))
    let mean = train.channelStatistics().mean[0]
    #expect(abs(mean - 0.2860) < 0.001)   // the published Fashion-MNIST train mean
    try? FileManager.default.removeItem(atPath: output)
}
