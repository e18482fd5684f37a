import Foundation
import Recipe
import Testing

// The recipe key `precision: fp32 | bf16` (the training step's oneDNN convolutions).

private func goodRecipe(_ overrides: [String]) throws -> Recipe {
    try RecipeLoader.load(path: corpusPath("good.yaml"), overrides: overrides + ["eval.select.metric=clean"])
}

@Test("precision: fp32 by default, bf16 when written")
func precisionKey() throws {
    #expect(try goodRecipe([]).precision.rawValue == "fp32")
    #expect(try goodRecipe(["precision=bf16"]).precision.rawValue == "bf16")
    #expect(try goodRecipe(["precision=fp32"]).precision.rawValue == "fp32")
    let text = """
        data: {name: cifar10, path: data/cifar10}
        model: {name: small-cnn}
        precision: bf16
        """
    #expect(try RecipeLoader.load(text: text, file: "bf16.yaml").precision.rawValue == "bf16")
}

@Test("An unknown precision is an error at its value's line:col, naming the key and the nearest value")
func badPrecisionValue() throws {
    let text = """
        data: {name: cifar10, path: data/cifar10}
        model: {name: small-cnn}
        precision: bf8
        """
    do {
        _ = try RecipeLoader.load(text: text, file: "bad-precision.yaml")
        Issue.record("precision: bf8 was accepted")
    } catch let error as RecipeError {
        #expect(shortForm(error).hasPrefix("bad-precision.yaml:3:12: unknown value 'bf8' for 'precision'"), "\(shortForm(error))")
        #expect(error.message.contains("bf16"), "\(error.message)")
    }
    do {
        _ = try goodRecipe(["precision=half"])
        Issue.record("precision=half was accepted")
    } catch let error as RecipeError {
        #expect(shortForm(error).hasPrefix("--set:1:11: unknown value 'half' for 'precision'"), "\(shortForm(error))")
    }
    // A section where a word is expected.
    do {
        _ = try goodRecipe(["precision={kind: bf16}"])
        Issue.record("a mapping for precision was accepted")
    } catch let error as RecipeError {
        #expect(error.message.contains("'precision'"), "\(error.message)")
    }
}

@Test("The resolved recipe shows precision only when bf16: fp32 runs keep their recipe.yaml and hash")
func precisionRendering() throws {
    let fp32 = renderYAML(try goodRecipe([]))
    #expect(!fp32.contains("precision"))
    #expect(renderYAML(try goodRecipe(["precision=fp32"])) == fp32)
    let bf16 = renderYAML(try goodRecipe(["precision=bf16"]))
    #expect(bf16.contains("\nprecision: bf16"), "\(bf16)")
    let again = try RecipeLoader.load(text: bf16, file: "rendered.yaml")
    #expect(again.precision.rawValue == "bf16")
    #expect(renderYAML(again) == bf16)
}

@Test("bf16 is never an error of the checks; a warning, if any, is at the key and says what runs instead")
func precisionChecks() throws {
    let fp32 = check(try goodRecipe([]), options: CheckOptions(inspectDataset: false))
    #expect(!fp32.contains { $0.message.contains("precision") })
    let bf16 = check(try goodRecipe(["precision=bf16"]), options: CheckOptions(inspectDataset: false))
        .filter { $0.message.contains("precision") }
    #expect(bf16.allSatisfy { $0.severity == .warning && ($0.message.contains("fp32") || $0.message.contains("emulates")) },
            "\(bf16)")
    // With oneDNN switched off for this process, the warning must be there.
    if ProcessInfo.processInfo.environment["RAT_ONEDNN"] == "0" {
        #expect(bf16.count == 1 && bf16[0].message.contains("RAT_ONEDNN=0"), "\(bf16)")
        #expect(bf16.first.map { "\($0.location)".hasPrefix("--set:1:") } ?? false, "\(bf16)")
    }
}
