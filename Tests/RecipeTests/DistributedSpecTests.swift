import Foundation
import Recipe
import Testing

private func goodRecipe(_ overrides: [String]) throws -> Recipe {
    try RecipeLoader.load(path: corpusPath("good.yaml"), overrides: overrides + ["eval.select.metric=clean"])
}

@Test("distributed.sync_bn: off by default, read when set, a non-boolean or unknown key is an error naming it")
func distributedSection() throws {
    #expect(try goodRecipe([]).distributed.syncBN == false)
    #expect(try goodRecipe(["distributed.sync_bn=true"]).distributed.syncBN == true)
    do {
        _ = try goodRecipe(["distributed.sync_bn=often"])
        Issue.record("a non-boolean sync_bn was accepted")
    } catch { #expect("\(error)".contains("distributed.sync_bn")) }
    do {
        _ = try goodRecipe(["distributed.sync_batchnorm=true"])
        Issue.record("an unknown key in distributed was accepted")
    } catch { #expect("\(error)".contains("sync_batchnorm") && "\(error)".contains("sync_bn")) }
}

@Test("The resolved recipe shows distributed only when set: earlier runs' recipe.yaml stays the same")
func distributedRendering() throws {
    #expect(!renderYAML(try goodRecipe([])).contains("distributed"))
    let rendered = renderYAML(try goodRecipe(["distributed.sync_bn=true"]))
    #expect(rendered.contains("distributed:\n  sync_bn: true"))
    // The rendering reads back as the same recipe.
    let again = try RecipeLoader.load(text: rendered, file: "rendered.yaml", overrides: [])
    #expect(again.distributed.syncBN)
}
