import ArgumentParser

/// The `rat` command line: thin wrappers over the library modules.
/// Each subcommand lives in its own file in this folder; the executable (`Sources/rat`)
/// parses, re-executes with the OpenBLAS settings when the command asks for them, and runs.
public struct Rat: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "rat",
        abstract: "Adversarial-training research on a compiled, differentiable graph.",
        subcommands: [
            Gradcheck.self, Check.self, ConfigCommand.self, DataCommand.self, Train.self, Eval.self, PlanCommand.self, Step.self, Bench.self,
            Report.self, Landscape.self, TableCommand.self, DistributedCommand.self,
        ]
    )

    public init() {}
}

/// A command whose numbers depend on OpenBLAS's kernels and threads: the executable
/// re-executes itself with these settings before running it (OpenBLAS reads them when it
/// loads). In-process callers (tests) run it without re-executing.
public protocol BLASSettingsCommand {
    /// OPENBLAS_CORETYPE to use unless the environment sets one; "auto" leaves OpenBLAS's choice.
    var blasCoretype: String { get }
}
