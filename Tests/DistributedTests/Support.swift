import Checkpoints
import Data
import Foundation

/// These tests launch the built `rat` under Open MPI's `mpirun`, as a user would: MPI jobs
/// cannot run inside the test process. `scripts/test.sh` builds `rat` first (setup.sh).
enum MPIJob {
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    static let rat: String? = ["release", "debug"].map { repositoryRoot + "/.build/\($0)/rat" }
        .first { FileManager.default.isExecutableFile(atPath: $0) }

    static let mpirun: String? = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
        .split(separator: ":").map { $0 + "/mpirun" }.first { FileManager.default.isExecutableFile(atPath: $0) }

    static let available = rat != nil && mpirun != nil
    static let skipReason: Comment = "needs Open MPI's mpirun (apt-get install openmpi-bin libopenmpi-dev) and a built rat (swift build -c release)"

    struct Result {
        var status: Int32
        var output: String
        var seconds: Double
    }

    /// One worker and one BLAS thread per rank (2 cores, several ranks), and Open MPI allowed
    /// to run as root (CI) and to oversubscribe; shared memory without CMA (containers forbid it).
    static let environment: [String: String] = [
        "RAT_WORKERS": "1", "OPENBLAS_NUM_THREADS": "1",
        "OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
        "OMPI_MCA_btl_vader_single_copy_mechanism": "none",
    ]

    /// Runs `rat arguments` under `mpirun -np ranks`, or plainly when `ranks` is nil; stdout and
    /// stderr together. A job still running after `timeout` seconds is killed (status -1).
    static func run(ranks: Int?, _ arguments: [String], timeout: Double = 240,
                    whileRunning: ((Process) -> Void)? = nil) throws -> Result {
        let process = Process()
        if let ranks {
            process.executableURL = URL(fileURLWithPath: mpirun!)
            process.arguments = ["--allow-run-as-root", "--oversubscribe", "-np", "\(ranks)", rat!] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: rat!)
            process.arguments = arguments
        }
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        let outputFile = FileManager.default.temporaryDirectory.appendingPathComponent("rat-mpi-\(UUID().uuidString).log")
        FileManager.default.createFile(atPath: outputFile.path, contents: nil)
        let handle = try FileHandle(forWritingTo: outputFile)
        process.standardOutput = handle
        process.standardError = handle
        let start = Date()
        try process.run()
        whileRunning?(process)
        while process.isRunning && Date().timeIntervalSince(start) < timeout { usleep(20_000) }
        var status = process.isRunning ? Int32(-1) : process.terminationStatus
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
            status = -1
        }
        try handle.close()
        let output = (try? String(contentsOf: outputFile, encoding: .utf8)) ?? ""
        try? FileManager.default.removeItem(at: outputFile)
        return Result(status: status, output: output, seconds: Date().timeIntervalSince(start))
    }
}

/// A fresh, empty folder under the temporary directory (the caller removes it).
func temporaryFolder(_ tag: String) -> String {
    let path = FileManager.default.temporaryDirectory
        .appendingPathComponent("rat-mpi-\(tag)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
    try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// Fashion-MNIST geometry (1×28×28, 10 classes), pixels from a fixed generator.
func tinyDataset(in folder: String, train: Int) throws -> String {
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

/// The quickstart recipe (TRADES + 1st + 2nd with weight noise and a PGD attack) cut to
/// seconds: `model` on the tiny dataset, batch 64, one attack step, 16 images evaluated.
/// The attack maximises cross-entropy from a uniform start: TRADES's own attack (KL from
/// x + 0.001·N(0,1)) starts where the KL's gradient is almost nothing but rounding, so any
/// change of summation order moves it; measured: one process with 1 or 2 OpenBLAS threads
/// ends 5 steps 2.4e-5 apart (relative), as far as 1 and 2 ranks. Data parallelism is what
/// these tests check, not that attack's conditioning.
func trainArguments(data: String, output: String, model: String, epochs: Int = 1, extra: [String] = []) -> [String] {
    let settings = ["data.path=\(data)", "output=\(output)", "model.name=\(model)", "schedule.batch=64",
                    "schedule.epochs=\(epochs)", "threat.steps=1", "eval.examples=16", "attack.objective=ce",
                    "threat.init=uniform"] + extra
    return ["train", MPIJob.repositoryRoot + "/recipes/quickstart.yaml"] + settings.flatMap { ["--set", $0] }
}

/// The largest norm-wise relative difference over the tensors of two checkpoints with the same names.
func largestRelativeDifference(_ a: String, _ b: String) throws -> Double {
    let (left, right) = (try SafeTensors.read(path: a), try SafeTensors.read(path: b))
    #expect(left.names == right.names)
    var worst = 0.0
    for name in left.names where left.contains(name) && (try? left.float32(name)) != nil {
        let (x, y) = (try left.float32(name), try right.float32(name))
        let difference = zip(x, y).reduce(0.0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) }.squareRoot()
        let scale = max(x.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot(), 1e-30)
        worst = max(worst, difference / scale)
    }
    return worst
}

/// The metrics lines of a run (one JSON object per epoch).
func metrics(_ run: String) throws -> [[String: Any]] {
    try String(contentsOfFile: run + "/metrics.jsonl", encoding: .utf8).split(separator: "\n").map {
        try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
    }
}

/// Whether two reported numbers agree to 1e-5: relative, and absolute below 1 (the Taylor
/// terms are ~1e-5 themselves, differences of nearly equal KLs in float32).
func agree(_ a: Double, _ b: Double) -> Bool { abs(a - b) <= 1e-5 * max(abs(a), 1) }

/// The float32 tensors of a checkpoint, by name, as bytes (metadata aside).
func tensorBytes(_ path: String) throws -> [String: [UInt8]] {
    let file = try SafeTensors.read(path: path)
    return Dictionary(uniqueKeysWithValues: try file.names.map { ($0, try file.tensor($0).bytes) })
}

/// Each epoch's losses and validation accuracies, flattened to name → value.
func numbers(_ line: [String: Any]) -> [String: Double] {
    var out = [String: Double]()
    for (key, value) in (line["loss"] as? [String: Double]) ?? [:] { out["loss." + key] = value }
    for (key, value) in (line["val"] as? [String: Double]) ?? [:] { out["val." + key] = value }
    return out
}

import Testing
