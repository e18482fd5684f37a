import Data
import Foundation
import Loader
import Shards
import Testing

private func prepare(_ format: SourceFormat, _ source: String, val: Int = 0) throws -> (Dataset, String) {
    let output = try Fixtures.temporaryFolder() + "/out"
    var options = PrepareOptions(format: format, source: source, output: output)
    options.validationCount = val
    options.recordsPerShard = 3   // several shards even for tiny inputs
    try Preparation.run(options)
    return (try Dataset.open(output), output)
}

/// CIFAR-style images [3][32][32] with recognisable content.
private func images(_ count: Int, seed: UInt64) -> [[UInt8]] {
    (0..<count).map { Fixtures.bytes(3072, seed: seed &+ UInt64($0)) }
}

@Test func cifar10RoundTrip() throws {
    let source = try Fixtures.temporaryFolder()
    var expected: [(Int, [UInt8])] = []
    for batch in 1...5 {
        let pictures = images(2, seed: UInt64(batch * 10))
        let labels = [UInt8(batch), UInt8(9 - batch)]
        expected += zip(labels.map(Int.init), pictures).map { ($0, $1) }
        try FileBytes.write(Fixtures.cifarBatch(labels: labels.map { [$0] }, images: pictures), to: "\(source)/data_batch_\(batch).bin")
    }
    let testPictures = images(3, seed: 99)
    try FileBytes.write(Fixtures.cifarBatch(labels: [[0], [1], [2]], images: testPictures), to: "\(source)/test_batch.bin")
    let (dataset, _) = try prepare(.cifar10, source)
    #expect(dataset.classNames.first == "airplane" && dataset.classCount == 10)
    #expect([dataset.channels, dataset.height, dataset.width] as [Int] == [3, 32, 32])
    let train = try dataset.split("train")
    #expect(train.labels == expected.map { Int32($0.0) })
    #expect(train.pixels == expected.flatMap { $0.1 })
    let test = try dataset.split("test")
    #expect(test.labels == [0, 1, 2])
    #expect(test.pixels == testPictures.flatMap { $0 })
}

@Test func cifar100KeepsTheFineLabel() throws {
    let source = try Fixtures.temporaryFolder()
    let pictures = images(4, seed: 7)
    try FileBytes.write(Fixtures.cifarBatch(labels: [[3, 99], [19, 0], [0, 42], [5, 57]], images: pictures), to: "\(source)/train.bin")
    try FileBytes.write(Fixtures.cifarBatch(labels: [[1, 1]], images: [pictures[0]]), to: "\(source)/test.bin")
    let (dataset, _) = try prepare(.cifar100, source)
    #expect(dataset.classCount == 100 && dataset.classNames[99] == "worm")
    let train = try dataset.split("train")
    #expect(train.labels == [99, 0, 42, 57])
    #expect(train.pixels == pictures.flatMap { $0 })
}

@Test func truncatedCifarFileNamesFileAndOffset() throws {
    let source = try Fixtures.temporaryFolder()
    let batch = Fixtures.cifarBatch(labels: [[1], [2]], images: images(2, seed: 1))
    for i in 1...5 { try FileBytes.write(batch, to: "\(source)/data_batch_\(i).bin") }
    try FileBytes.write(Array(batch.dropLast(5)), to: "\(source)/test_batch.bin")
    let output = try Fixtures.temporaryFolder() + "/out"
    expectDataError(.truncated, mentioning: "test_batch.bin", needsOffset: true) {
        try Preparation.run(PrepareOptions(format: .cifar10, source: source, output: output))
    }
    // Nothing half-written is left behind: neither the output nor its temporary sibling.
    #expect(!FileManager.default.fileExists(atPath: output))
    let parent = (output as NSString).deletingLastPathComponent
    #expect(try FileManager.default.contentsOfDirectory(atPath: parent).isEmpty)
}

@Test func cifarLabelOutOfRangeNamesFileAndOffset() throws {
    let source = try Fixtures.temporaryFolder()
    let pictures = images(2, seed: 2)
    for i in 1...5 { try FileBytes.write(Fixtures.cifarBatch(labels: [[1], [2]], images: pictures), to: "\(source)/data_batch_\(i).bin") }
    try FileBytes.write(Fixtures.cifarBatch(labels: [[3], [10]], images: pictures), to: "\(source)/test_batch.bin")
    do {
        try Preparation.run(PrepareOptions(format: .cifar10, source: source, output: try Fixtures.temporaryFolder() + "/out"))  // never inside the source
        Issue.record("expected an error")
    } catch let error as DataFormatError {
        #expect(error.kind == .labelOutOfRange)
        #expect(error.file.hasSuffix("test_batch.bin"))
        #expect(error.offset == 3073)   // second record's label byte
    }
}

/// An SVHN-layout .mat file: X uint8 32×32×3×N (column-major), y N×1.
private func svhnMat(_ pictures: [[UInt8]], labels: [Int], compress: Bool, includeX: Bool = true) -> [UInt8] {
    let x = Fixtures.matrix(name: "X", classCode: 9, dimensions: [32, 32, 3, pictures.count], storedType: 2,
                            data: Fixtures.svhnColumnMajor(pictures))
    // Compressed files store y as double (class and storage 6/9); the plain file stores the
    // double array as uint8, the compaction MATLAB applies when values fit.
    let y = compress
        ? Fixtures.matrix(name: "y", classCode: 6, dimensions: [labels.count, 1], storedType: 9, data: Fixtures.doubles(labels))
        : Fixtures.matrix(name: "y", classCode: 6, dimensions: [labels.count, 1], storedType: 2, data: labels.map(UInt8.init))
    let elements = (includeX ? [x] : []) + [y]
    return Fixtures.matHeader() + elements.flatMap { compress ? Fixtures.compressed($0) : $0 }
}

@Test func svhnRoundTripWithCompressedAndPlainElements() throws {
    let source = try Fixtures.temporaryFolder()
    let trainPictures = images(5, seed: 3), testPictures = images(2, seed: 4)
    try FileBytes.write(svhnMat(trainPictures, labels: [10, 1, 5, 9, 10], compress: true), to: "\(source)/train_32x32.mat")
    try FileBytes.write(svhnMat(testPictures, labels: [3, 10], compress: false), to: "\(source)/test_32x32.mat")
    let (dataset, _) = try prepare(.svhn, source)
    #expect(dataset.classNames == (0...9).map(String.init))
    let train = try dataset.split("train")
    #expect(train.labels == [0, 1, 5, 9, 0])           // 10 means digit 0
    #expect(train.pixels == trainPictures.flatMap { $0 }) // column-major → [N][C][H][W]
    let test = try dataset.split("test")
    #expect(test.labels == [3, 0])
    #expect(test.pixels == testPictures.flatMap { $0 })
    #expect(dataset.splitNames == ["train", "test"])
}

@Test func matWithoutXIsReported() throws {
    let folder = try Fixtures.temporaryFolder()
    try FileBytes.write(svhnMat(images(1, seed: 5), labels: [1], compress: true, includeX: false), to: "\(folder)/train_32x32.mat")
    expectDataError(.missingField, mentioning: "train_32x32.mat") { _ = try SVHN.decode("\(folder)/train_32x32.mat") }
}

@Test func matBadInputsAreReported() throws {
    let folder = try Fixtures.temporaryFolder()
    let path = "\(folder)/m.mat"
    let good = svhnMat(images(2, seed: 6), labels: [1, 11], compress: true)
    try FileBytes.write(good, to: path)
    expectDataError(.labelOutOfRange, mentioning: "m.mat") { _ = try SVHN.decode(path) }
    try FileBytes.write(Array(good.prefix(good.count - 40)), to: path)
    expectDataError(.truncated, mentioning: "m.mat", needsOffset: true) { _ = try SVHN.decode(path) }
    var wrongMagic = good
    wrongMagic[0] = UInt8(ascii: "X")
    try FileBytes.write(wrongMagic, to: path)
    expectDataError(.badMagic, mentioning: "m.mat", needsOffset: true) { _ = try SVHN.decode(path) }
    let wrongShape = Fixtures.matHeader() + Fixtures.matrix(name: "X", classCode: 9, dimensions: [28, 28, 1, 1], storedType: 2,
                                                             data: [UInt8](repeating: 0, count: 784))
        + Fixtures.matrix(name: "y", classCode: 6, dimensions: [1, 1], storedType: 9, data: Fixtures.doubles([1]))
    try FileBytes.write(wrongShape, to: path)
    expectDataError(.wrongDimensions, mentioning: "m.mat") { _ = try SVHN.decode(path) }
}

private func writeIDX(_ folder: String, train: Int, test: Int, height: Int = 28, width: Int = 28) throws -> ([UInt8], [UInt8]) {
    let trainPixels = Fixtures.bytes(train * height * width, seed: 11)
    let trainLabels = (0..<train).map { UInt8($0 % 10) }
    try FileBytes.write(Zlib.gzip(Fixtures.idx(dimensions: [train, height, width], values: trainPixels)), to: "\(folder)/train-images-idx3-ubyte.gz")
    try FileBytes.write(Zlib.gzip(Fixtures.idx(dimensions: [train], values: trainLabels)), to: "\(folder)/train-labels-idx1-ubyte.gz")
    try FileBytes.write(Zlib.gzip(Fixtures.idx(dimensions: [test, height, width], values: Fixtures.bytes(test * height * width, seed: 12))),
                        to: "\(folder)/t10k-images-idx3-ubyte.gz")
    try FileBytes.write(Zlib.gzip(Fixtures.idx(dimensions: [test], values: (0..<test).map { UInt8(9 - $0 % 10) })),
                        to: "\(folder)/t10k-labels-idx1-ubyte.gz")
    return (trainPixels, trainLabels)
}

@Test func idxGzipRoundTripForMNISTAndFashionMNIST() throws {
    let source = try Fixtures.temporaryFolder()
    let (pixels, labels) = try writeIDX(source, train: 12, test: 4)
    for format in [SourceFormat.mnist, .fashionMNIST] {
        let (dataset, _) = try prepare(format, source)
        #expect([dataset.channels, dataset.height, dataset.width] as [Int] == [1, 28, 28])
        let train = try dataset.split("train")
        #expect(train.pixels == pixels)
        #expect(train.labels == labels.map(Int32.init))
        #expect(try dataset.split("test").labels == [9, 8, 7, 6])
    }
}

@Test func idxBadInputsAreReported() throws {
    let folder = try Fixtures.temporaryFolder()
    _ = try writeIDX(folder, train: 4, test: 2)
    let images = "\(folder)/train-images-idx3-ubyte.gz", labels = "\(folder)/train-labels-idx1-ubyte.gz"
    // Wrong number of dimensions.
    try FileBytes.write(Zlib.gzip(Fixtures.idx(dimensions: [4, 784], values: [UInt8](repeating: 0, count: 4 * 784))), to: images)
    expectDataError(.wrongDimensions, mentioning: "train-images-idx3-ubyte.gz", needsOffset: true) {
        _ = try IDX.decodePair(images: images, labels: labels, classCount: 10)
    }
    // Sizes that promise more data than present.
    try FileBytes.write(Zlib.gzip(Fixtures.idx(dimensions: [5, 28, 28], values: [UInt8](repeating: 0, count: 4 * 784))), to: images)
    expectDataError(.truncated, mentioning: "train-images-idx3-ubyte.gz", needsOffset: true) {
        _ = try IDX.decodePair(images: images, labels: labels, classCount: 10)
    }
    // Image and label counts disagree.
    try FileBytes.write(Zlib.gzip(Fixtures.idx(dimensions: [3, 28, 28], values: [UInt8](repeating: 0, count: 3 * 784))), to: images)
    expectDataError(.wrongDimensions, mentioning: "train-labels-idx1-ubyte.gz") {
        _ = try IDX.decodePair(images: images, labels: labels, classCount: 10)
    }
    // Wrong magic, truncated gzip, label out of range.
    try FileBytes.write([1, 2, 8, 1, 0, 0, 0, 0], to: images)
    expectDataError(.badMagic, mentioning: "train-images-idx3-ubyte.gz", needsOffset: true) { _ = try IDX.read(images, expectedDimensions: 3) }
    let gz = Zlib.gzip(Fixtures.idx(dimensions: [4], values: [1, 2, 3, 4]))
    try FileBytes.write(Array(gz.prefix(gz.count / 2)), to: labels)
    expectDataError(.truncated, mentioning: "train-labels-idx1-ubyte.gz", needsOffset: true) { _ = try IDX.read(labels, expectedDimensions: 1) }
    try FileBytes.write(Zlib.gzip(Fixtures.idx(dimensions: [1, 28, 28], values: [UInt8](repeating: 0, count: 784))), to: images)
    try FileBytes.write(Zlib.gzip(Fixtures.idx(dimensions: [1], values: [10])), to: labels)
    expectDataError(.labelOutOfRange, mentioning: "train-labels-idx1-ubyte.gz", needsOffset: true) {
        _ = try IDX.decodePair(images: images, labels: labels, classCount: 10)
    }
}

@Test func validationCarveIsDisjointAndSeeded() throws {
    let source = try Fixtures.temporaryFolder()
    // Unique images: pixel 0 and 1 encode the record index.
    let count = 40
    var pixels = [UInt8](repeating: 0, count: count * 784)
    for i in 0..<count { pixels[i * 784] = UInt8(i); pixels[i * 784 + 1] = 0xAB }
    try FileBytes.write(Zlib.gzip(Fixtures.idx(dimensions: [count, 28, 28], values: pixels)), to: "\(source)/train-images-idx3-ubyte.gz")
    try FileBytes.write(Zlib.gzip(Fixtures.idx(dimensions: [count], values: (0..<count).map { UInt8($0 % 10) })), to: "\(source)/train-labels-idx1-ubyte.gz")
    try FileBytes.write(Zlib.gzip(Fixtures.idx(dimensions: [1, 28, 28], values: [UInt8](repeating: 0, count: 784))), to: "\(source)/t10k-images-idx3-ubyte.gz")
    try FileBytes.write(Zlib.gzip(Fixtures.idx(dimensions: [1], values: [0])), to: "\(source)/t10k-labels-idx1-ubyte.gz")
    let (first, _) = try prepare(.mnist, source, val: 10)
    let (second, _) = try prepare(.mnist, source, val: 10)
    let ids = { (split: SplitData) in (0..<split.count).map { Int(split.pixels[$0 * 784]) } }
    let train = ids(try first.split("train")), val = ids(try first.split("val"))
    #expect(train.count == 30 && val.count == 10)
    #expect(Set(train).isDisjoint(with: val))
    #expect(Set(train + val) == Set(0..<count))
    #expect(ids(try second.split("val")) == val)   // fixed seed → same carve
    #expect(try first.split("test").count == 1)
}
