import ArgumentParser

/// The `rat` command line: thin wrappers over the library modules.
/// Each subcommand lives in its own file in this folder.
@main
struct Rat: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rat",
        abstract: "Adversarial-training research on a compiled, differentiable graph.",
        subcommands: [
            Gradcheck.self, Check.self, ConfigCommand.self, DataCommand.self, Train.self, Eval.self, PlanCommand.self, Step.self, Bench.self,
        ]
    )
}
