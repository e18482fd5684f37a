import Foundation
import Testing

/// A one-row table over a tiny MLP recipe on the embedded subset (nothing is trained here).
private func writeTinyTable(in folder: String, columns: String = "[clean, pgd20]") throws -> String {
    try """
        data: {name: fashion-mnist-small, path: \(repositoryRoot)/datasets/fashion-mnist-small}
        model: {name: mlp, hidden: 16}
        threat: {norm: linf, eps: 0.1, step: 0.05, steps: 1}
        noise: {enabled: false}
        loss: {terms: [{name: adversarial, kind: ce, on: adversarial}]}
        attack: {objective: ce}
        schedule: {epochs: 1, batch: 100}
        """.write(toFile: folder + "/tiny.yaml", atomically: true, encoding: .utf8)
    try """
        seeds: [0, 1]
        columns: \(columns)
        rows:
          - {label: CE, recipe: tiny.yaml, paper: {clean: 80}}
        """.write(toFile: folder + "/spec.yaml", atomically: true, encoding: .utf8)
    return folder + "/spec.yaml"
}

@Test("rat table plan lists a table's runs; a bad spec exits 1; render writes the table and its provenance")
func tableCommands() throws {
    let folder = temporaryFolder("table")
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let spec = try writeTinyTable(in: folder)
    #expect(rat(["table", "plan", "--no-cost", "--runs", folder + "/runs", spec]) == 0)
    let bad = try writeTinyTable(in: folder, columns: "[clean, robust]")
    #expect(rat(["table", "plan", "--no-cost", bad]) == 1)
    _ = try writeTinyTable(in: folder)
    #expect(rat(["table", "render", spec, "--runs", folder + "/runs", "--format", "csv", "--output", folder + "/t.csv"]) == 0)
    let csv = try String(contentsOfFile: folder + "/t.csv", encoding: .utf8)
    #expect(csv.contains("CE,,,0,80.0000,,0"), "no run yet: empty mean, 0 seeds, the paper's value")
    #expect(exists(folder + "/t.csv.provenance.json"))
    #expect(rat(["table", "render", spec, "--format", "pdf"]) != 0)
    #expect(rat(["table", "run", spec, "--only", "nope", "--runs", folder + "/runs"]) == 1)
}
