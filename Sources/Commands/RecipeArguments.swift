import ArgumentParser
import Foundation
import Recipe

/// `--set key.path=value`, shared by every command that reads a recipe.
struct RecipeOverrides: ParsableArguments {
    @Option(name: .customLong("set"), help: ArgumentHelp("Override a recipe value: key.path=value (repeatable).",
                                                          valueName: "key.path=value"))
    var values: [String] = []

    /// Loads a recipe with these overrides; a bad recipe prints its `file:line:col: error: …`
    /// and exits 1.
    func load(_ path: String) throws -> Recipe {
        do { return try RecipeLoader.load(path: path, overrides: values) } catch {
            printError("\(error)")
            throw ExitCode(1)
        }
    }
}

/// Diagnostics go to standard error, like a compiler's, so that standard output stays
/// clean (YAML from `config show`, JSON from `eval --json`).
func printError(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}
