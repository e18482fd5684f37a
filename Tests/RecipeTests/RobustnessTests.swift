import Foundation
import Recipe
import Testing

/// A small deterministic generator, so a failing mutation is reproducible.
private struct SplitMix64 {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }
}

/// Mutated recipes (characters deleted, duplicated or replaced by YAML-significant ones)
/// either load or throw a located `RecipeError`; nothing crashes, nothing else is thrown.
@Test func mutatedRecipesNeverCrash() throws {
    let source = try String(contentsOf: repositoryRoot().appendingPathComponent("recipes/trades-1st-2nd.yaml"), encoding: .utf8)
        .replacingOccurrences(of: "extends: base/paper-cifar10.yaml", with: "data: {path: d}\nmodel: {name: mlp}")
    let alphabet = Array(":-[]{}#,'\"\t\n /*()&!|>?%@0123456789abcxyz\u{FEFF}")
    var random = SplitMix64(state: 42)
    var loaded = 0, rejected = 0
    for _ in 0..<1500 {
        var characters = Array(source)
        for _ in 0..<(1 + random.below(3)) where !characters.isEmpty {
            let position = random.below(characters.count)
            switch random.below(3) {
            case 0: characters.remove(at: position)
            case 1: characters.insert(characters[position], at: position)
            default: characters[position] = alphabet[random.below(alphabet.count)]
            }
        }
        do {
            let recipe = try RecipeLoader.load(text: String(characters), file: "mutant.yaml")
            _ = check(recipe, options: CheckOptions(inspectDataset: false))
            _ = renderYAML(recipe)
            loaded += 1
        } catch let error as RecipeError {
            #expect(error.location.line >= 1 && error.location.column >= 1, "\(error)")
            rejected += 1
        }
    }
    #expect(loaded > 0 && rejected > 0)
}

@Test func deepNestingIsRejected() {
    let text = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
    #expect(throws: RecipeError("nesting deeper than 64 levels", at: SourceLocation(file: "deep.yaml", line: 1, column: 65))) {
        try RecipeLoader.load(text: text, file: "deep.yaml")
    }
}

@Test func nonFiniteNumbersAreNotNumbers() {
    #expect(throws: RecipeError("expected a number (such as 0.1 or 8/255) for 'noise.sigma', found '1e999'",
                                at: SourceLocation(file: "--set", line: 1, column: 13))) {
        try RecipeLoader.load(text: "data: {path: d}\nmodel: {name: mlp}\n", file: "inline.yaml", overrides: ["noise.sigma=1e999"])
    }
}
