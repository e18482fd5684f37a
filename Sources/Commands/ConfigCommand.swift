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

        @OptionGroup var overrides: RecipeOverrides

        func run() throws {
            print(renderYAML(try overrides.loadUnchecked(recipe)), terminator: "")
        }
    }
}
