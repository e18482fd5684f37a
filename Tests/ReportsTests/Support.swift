import ArgumentParser
import Commands
import Data
import Foundation

let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path

/// Runs `rat <arguments>` in this process and returns its exit code (as CommandsTests do).
func rat(_ arguments: [String]) -> Int32 {
    do {
        var command = try Rat.parseAsRoot(arguments)
        try command.run()
        return 0
    } catch {
        return Rat.exitCode(for: error).rawValue
    }
}

func temporaryFolder(_ tag: String) -> String {
    let path = FileManager.default.temporaryDirectory
        .appendingPathComponent("rat-reports-\(tag)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
    try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }

func read(_ path: String) throws -> String { try String(contentsOfFile: path, encoding: .utf8) }

/// A Fashion-MNIST-shaped dataset (1×28×28, 10 classes): 32 train, 16 val, 16 test images.
func tinyDataset(in folder: String) throws -> String {
    var state: UInt64 = 0x2545_F491_4F6C_DD1D
    func split(_ count: Int) -> SourceSplit {
        var pixels = [UInt8]()
        for _ in 0..<count * 784 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            pixels.append(UInt8(truncatingIfNeeded: state >> 56))
        }
        return SourceSplit(labels: (0..<count).map { $0 % 10 }, pixels: pixels)
    }
    let dataset = SourceDataset(name: "tiny", channels: 1, height: 28, width: 28, classNames: (0..<10).map { "c\($0)" },
                                splits: ["train": split(32), "val": split(16), "test": split(16)])
    let path = folder + "/tiny-data"
    _ = try Preparation.write(dataset, sourceFormat: "fashion-mnist", to: path)
    return path
}

/// Trains the quickstart recipe cut to seconds (batch 16, `epochs` epochs, one attack step)
/// into `folder/name`, and evaluates it on 16 test images: a real run folder.
func tinyRun(in folder: String, name: String = "run", epochs: Int = 2, extra: [String] = []) throws -> String {
    let data = exists(folder + "/tiny-data") ? folder + "/tiny-data" : try tinyDataset(in: folder)
    let output = folder + "/" + name
    let sets = ["data.path=\(data)", "output=\(output)", "schedule.batch=16", "schedule.epochs=\(epochs)", "threat.steps=1",
                "eval.examples=16", "eval.attacks=[fgsm]", "eval.select.metric=clean"] + extra
    let recipe = repositoryRoot + "/recipes/quickstart.yaml"
    let trained = rat(["train", recipe] + sets.flatMap { ["--set", $0] })
    precondition(trained == 0, "training the tiny run failed (\(trained))")
    let evaluated = rat(["eval", output, "--json"])
    precondition(evaluated == 0, "evaluating the tiny run failed (\(evaluated))")
    return output
}

/// Whether xmllint accepts the file as well-formed XML; nil (and a message) without xmllint.
func wellFormed(file: String) throws -> Bool? {
    guard let xmllint = ["/usr/bin/xmllint", "/usr/local/bin/xmllint"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
        print("xmllint is not installed (apt-get install libxml2-utils): well-formedness not checked")
        return nil
    }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: xmllint)
    process.arguments = ["--noout", file]
    try process.run()
    process.waitUntilExit()
    return process.terminationStatus == 0
}
