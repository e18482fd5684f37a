import ArgumentParser
import Collective
import Foundation
import Models

/// Tools for jobs under mpirun: the all-reduce timings behind docs/distributed.md's cost
/// model, and the work dealer's self-check (what `rat table run --ranks-per-run` builds on).
struct DistributedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "distributed",
        abstract: "Under mpirun: time the gradient all-reduce of each zoo model, or check the work dealer.",
        subcommands: [AllReduceTiming.self, DealCheck.self])
}

struct AllReduceTiming: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "allreduce",
        abstract: "Times one all-reduce of each zoo model's gradient (all its parameters, float32) over the job's ranks.")

    @Option(help: "Zoo models to time (default: all).")
    var models: [String] = ModelZoo.names

    @Option(help: "Timed all-reduces per model (the median is reported).")
    var repeats = 20

    @Option(help: "Time buffers of these many floats instead of the models' gradients (synchronised BatchNorm all-reduces one [C] statistic at a time).")
    var floats: [Int] = []

    func validate() throws {
        guard repeats >= 1 else { throw ValidationError("--repeats must be ≥ 1") }
        if let bad = floats.first(where: { $0 < 1 }) { throw ValidationError("--floats: \(bad) is not a buffer size ≥ 1") }
        for name in models where !ModelZoo.names.contains(name) {
            throw ValidationError("unknown model '\(name)' (the zoo has: \(ModelZoo.names.joined(separator: ", ")))")
        }
    }

    func run() throws {
        let communicator = try Launch.communicator()
        defer { Launch.finish(communicator) }
        if communicator.isRoot {
            print("ranks \(communicator.size); median of \(repeats) all-reduces (MPI_Allreduce, float32 sum, in place)")
            print("model              parameters      MB   median ms   bus GB/s")
        }
        let sizes: [(name: String, count: Int)] = try floats.isEmpty ? models.map { name in
            // CIFAR geometry (3×32×32, 10 classes): the size the paper's tables train.
            let model = try ModelZoo.make(name: name, options: ModelZoo.defaultOptions(name: name) ?? [:], classes: 10,
                                          inputShape: [1, 3, 32, 32])
            return (name, model.parameters(inputShape: [1, 3, 32, 32]).reduce(0) { $0 + $1.count })
        } : floats.map { ("\($0) floats", $0) }
        for (name, count) in sizes {
            var buffer = [Float](repeating: 1, count: count)
            communicator.allReduceSum(&buffer)  // warm-up: connections, registration
            var times = [Double]()
            for _ in 0..<repeats {
                communicator.barrier()
                let start = DispatchTime.now().uptimeNanoseconds
                communicator.allReduceSum(&buffer)
                times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            }
            // Every rank's median; the slowest rank's is what a step waits for.
            let median = times.sorted()[times.count / 2]
            let slowest = communicator.allGather(median).max()!
            let bytes = Double(count * 4)
            // Bus bandwidth as NCCL defines it: a ring moves 2(N−1)/N of the buffer per rank.
            let n = Double(communicator.size)
            let bus = n > 1 ? bytes * 2 * (n - 1) / n / slowest / 1e9 : 0
            if communicator.isRoot {
                print(name.padding(toLength: 16, withPad: " ", startingAt: 0)
                      + String(format: " %12d %7.1f %11.4f %10.2f", count, bytes / 1e6, slowest * 1e3, bus))
            }
        }
    }
}

struct DealCheck: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deal",
        abstract: "Deals --items work items to groups of --ranks-per-run ranks; the group leader of each creates <directory>/item-<i> (it must not exist yet).")

    @Option(help: "Number of work items.")
    var items: Int

    @Option(help: "Ranks per item (must divide the number of ranks).")
    var ranksPerRun = 1

    @Option(help: "Folder where each item leaves its file.")
    var directory: String

    @Option(help: "Seconds each odd item sleeps (uneven items exercise dealing as groups become free).")
    var oddItemSeconds = 0.2

    func run() throws {
        let communicator = try Launch.communicator()
        do {
            try dealWork(count: items, ranksPerRun: ranksPerRun, communicator: communicator) { item, group in
                if item % 2 == 1 { Thread.sleep(forTimeInterval: oddItemSeconds) }
                group.barrier()
                guard group.isRoot else { return }
                let path = directory + "/item-\(item)"
                let fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o644)
                guard fd >= 0 else { throw WorkDealerError(description: "\(path): already exists: item \(item) ran twice") }
                let line = "item \(item): group of \(group.size) led by rank \(communicator.rank)\n"
                _ = line.withCString { write(fd, $0, strlen($0)) }
                close(fd)
            }
        } catch {
            printError("error on rank \(communicator.rank): \(error)")
            Launch.finish(communicator)
            throw ExitCode(1)
        }
        Launch.finish(communicator)
    }
}
