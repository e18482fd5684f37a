import ArgumentParser
import Recipe

/// `rat config show <recipe> [--set …]`: the fully resolved recipe as YAML.
struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Inspect recipes.",
        subcommands: [Show.self])

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the fully resolved recipe (extends, overrides and defaults applied) as YAML.")

        @Argument(help: "The recipe file (YAML).")
        var recipe: String

        @Option(name: .customLong("set"), help: ArgumentHelp("Override a value: key.path=value (repeatable).", valueName: "key.path=value"))
        var overrides: [String] = []

        func run() throws {
            do {
                print(renderYAML(try RecipeLoader.load(path: recipe, overrides: overrides)), terminator: "")
            } catch let error as RecipeError {
                printError(error.description)
                throw ExitCode(1)
            }
        }
    }
}
