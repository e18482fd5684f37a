import ArgumentParser
import Foundation
import Recipe

/// `rat check <recipe>`: load (schema errors), then semantic errors and protocol warnings.
/// Exit status 0 when only warnings, 1 on any error.
struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Validate a recipe: schema, semantic checks and evaluation-protocol warnings.")

    @Argument(help: "The recipe file (YAML).")
    var recipe: String

    @OptionGroup var overrides: RecipeOverrides

    @Flag(name: .customLong("no-data"), help: "Do not look for the dataset's manifest.json.")
    var skipDataset = false

    func run() throws {
        let loaded = try overrides.loadUnchecked(recipe)
        let diagnostics = check(loaded, options: CheckOptions(inspectDataset: !skipDataset))
        for diagnostic in diagnostics { printError(diagnostic.description) }
        let errors = diagnostics.filter { $0.severity == .error }.count
        let warnings = diagnostics.count - errors
        if loaded.precision == .bf16 {
            print("precision: bf16: the training step's forward convolutions on oneDNN (loss and training attack) take bf16 "
                  + "inputs with f32 accumulation; gradients and weights stay f32; evaluation (validation, final report, "
                  + "rat eval) runs fp32")
        }
        print("\(recipe): \(errors) error\(errors == 1 ? "" : "s"), \(warnings) warning\(warnings == 1 ? "" : "s")")
        if errors > 0 { throw ExitCode(1) }
    }
}
