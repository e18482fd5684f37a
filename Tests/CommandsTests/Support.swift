import ArgumentParser
import Commands
import Data
import Foundation

let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path

let quickstart = repositoryRoot + "/recipes/quickstart.yaml"

/// Runs `rat <arguments>` in this process and returns its exit code: 0 when it returns, the
/// code of the `ExitCode` it throws, ArgumentParser's code (64 for a usage error) otherwise.
func rat(_ arguments: [String]) -> Int32 {
    do {
        var command = try Rat.parseAsRoot(arguments)
        try command.run()
        return 0
    } catch {
        return Rat.exitCode(for: error).rawValue
    }
}

/// A fresh, empty folder under the temporary directory (the caller removes it).
func temporaryFolder(_ tag: String) -> String {
    let path = FileManager.default.temporaryDirectory
        .appendingPathComponent("rat-commands-\(tag)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
    try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }

/// A dataset of Fashion-MNIST geometry (1×28×28, 10 classes) with `train` images in train
/// and 16 each in val and test, pixels from a fixed generator: training on it takes seconds.
func tinyDataset(in folder: String, train: Int = 32) throws -> String {
    var state: UInt64 = 0x2545_F491_4F6C_DD1D
    func split(_ count: Int) -> SourceSplit {
        var pixels = [UInt8]()
        pixels.reserveCapacity(count * 784)
        for _ in 0..<count * 784 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            pixels.append(UInt8(truncatingIfNeeded: state >> 56))
        }
        return SourceSplit(labels: (0..<count).map { $0 % 10 }, pixels: pixels)
    }
    let dataset = SourceDataset(name: "tiny", channels: 1, height: 28, width: 28, classNames: (0..<10).map { "c\($0)" },
                                splits: ["train": split(train), "val": split(16), "test": split(16)])
    let path = folder + "/tiny-data"
    _ = try Preparation.write(dataset, sourceFormat: "fashion-mnist", to: path)
    return path
}

/// `--set` arguments that cut the quickstart recipe to seconds on a tiny dataset: small CNN,
/// batch 16, one epoch, one attack step, evaluation on 16 images.
func tinyOverrides(data: String, output: String) -> [String] {
    ["data.path=\(data)", "output=\(output)", "schedule.batch=16", "schedule.epochs=1", "threat.steps=1",
     "eval.examples=16"].flatMap { ["--set", $0] }
}
