import Foundation
import Recipe
import Testing

// `distributed.sync_bn` on a model without BatchNorm: a warning of the checks every command
// runs (`rat check`, `rat train`, …), at the key's file:line:col, not an error. The same CLI
// output under the built binary is checked in Tests/DistributedTests.

@Test("rat check warns about sync_bn on a model without BatchNorm at the key's line:col, exit 0; not for a BN model")
func syncBatchNormWithoutBatchNorm() throws {
    let folder = temporaryFolder("sync-bn-check")
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let file = folder + "/mlp.yaml"
    try """
    extends: [\(quickstart)]
    model: {name: mlp}
    distributed:
      sync_bn: true
    """.write(toFile: file, atomically: true, encoding: .utf8)
    #expect(rat(["check", file, "--no-data"]) == 0)
    let recipe = try RecipeLoader.load(path: file)
    let warnings = check(recipe, options: CheckOptions(inspectDataset: false)).filter { $0.message.contains("sync_bn") }
    #expect(warnings.count == 1)
    if let warning = warnings.first {
        #expect(warning.severity == .warning)
        #expect(warning.description.hasPrefix("\(file):4:12: warning: distributed.sync_bn is set but model 'mlp' has no BatchNorm"),
                "\(warning)")
    }
    let withBatchNorm = try RecipeLoader.load(path: file, overrides: ["model.name=small-cnn"])
    #expect(!check(withBatchNorm, options: CheckOptions(inspectDataset: false)).contains { $0.message.contains("sync_bn") })
}
