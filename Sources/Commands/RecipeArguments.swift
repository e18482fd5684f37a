import ArgumentParser
import Foundation
import Recipe

/// `--set key.path=value`, shared by every command that reads a recipe.
struct RecipeOverrides: ParsableArguments {
    @Option(name: .customLong("set"), help: ArgumentHelp("Override a recipe value: key.path=value (repeatable).",
                                                          valueName: "key.path=value"))
    var values: [String] = []

    /// Loads a recipe with these overrides and runs the semantic checks of `rat check` on
    /// it, so that no command runs a recipe `check` refuses: errors are printed and exit 1,
    /// warnings are printed and the command goes on. `inspectDataset` also compares the
    /// prepared dataset's manifest (off for commands that work without prepared data).
    func load(_ path: String, inspectDataset: Bool = true) throws -> Recipe {
        try loadCheckedRecipe(path, overrides: values, inspectDataset: inspectDataset)
    }

    /// Loads without the semantic checks (`rat check` runs its own, `config show` prints
    /// whatever resolves); a bad recipe prints its `file:line:col: error: …` and exits 1.
    func loadUnchecked(_ path: String) throws -> Recipe {
        try loadRecipeOrExit(path, overrides: values)
    }
}

/// A recipe file with `overrides`, checked as `rat check` checks it (see `RecipeOverrides.load`).
/// A plain function, so that code outside argument parsing (a second recipe, such as the
/// surrogate's of `eval --transfer-from`) loads recipes the same way: a default-built
/// `RecipeOverrides` cannot be read (its `@Option` exists only once parsed).
func loadCheckedRecipe(_ path: String, overrides: [String] = [], inspectDataset: Bool = true) throws -> Recipe {
    let recipe = try loadRecipeOrExit(path, overrides: overrides)
    try requirePassingChecks(recipe, options: CheckOptions(inspectDataset: inspectDataset))
    return recipe
}

/// A bad recipe prints its `file:line:col: error: …` and exits 1.
func loadRecipeOrExit(_ path: String, overrides: [String] = []) throws -> Recipe {
    do { return try RecipeLoader.load(path: path, overrides: overrides) } catch {
        printError("\(error)")
        throw ExitCode(1)
    }
}

/// The semantic checks every recipe-running command shares with `rat check`: prints each
/// diagnostic (`file:line:col: error|warning: …`) to standard error; any error exits 1.
func requirePassingChecks(_ recipe: Recipe, options: CheckOptions) throws {
    let diagnostics = check(recipe, options: options)
    for diagnostic in diagnostics { printError(diagnostic.description) }
    if diagnostics.contains(where: { $0.severity == .error }) { throw ExitCode(1) }
}

/// Diagnostics go to standard error, like a compiler's, so that standard output stays
/// clean (YAML from `config show`, JSON from `eval --json`).
func printError(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}
