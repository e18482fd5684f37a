import Foundation
import Recipe
import Tables

let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path

/// A fresh, empty folder under the temporary directory (the caller removes it).
func temporaryFolder(_ tag: String) -> String {
    let path = FileManager.default.temporaryDirectory
        .appendingPathComponent("rat-tables-\(tag)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
    try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }

/// A recipe that trains in about a second: a 32-wide MLP, TRADES with a one-step attack,
/// one epoch of the embedded Fashion-MNIST subset, validation on 50 images.
let tinyRecipe = """
    data: {name: fashion-mnist-small, path: \(repositoryRoot)/datasets/fashion-mnist-small,
           augment: {crop_padding: 0, horizontal_flip: false}}
    model: {name: mlp, hidden: 32}
    threat: {norm: linf, eps: 0.1, step: 0.05, steps: 1}
    noise: {enabled: false}
    loss:
      params: {beta: 6}
      terms:
        - {name: natural, kind: ce, on: clean}
        - {name: robust, kind: kl, on: [clean, adversarial], weight: beta}
    optim: {lr: 0.05}
    schedule: {epochs: 1, batch: 100, lr: {kind: cosine}}
    eval: {attacks: [pgd20], split: test, examples: 50, select: {metric: pgd20, split: val}}
    """

/// Two rows × two seeds: TRADES at β = 6 and β = 1, white-box and transfer (from the β = 6
/// row of the same seed) columns, time and memory; evaluated on the first 40 test images.
func tinySpec(extraRowKeys: String = "") -> String {
    """
    title: Tiny table
    seeds: [0, 1]
    examples: 40
    columns: [clean, pgd20, {name: transfer-pgd20, surrogate: TRADES}, epoch-time, peak-memory]
    rows:
      - label: TRADES
        recipe: tiny.yaml
        paper: {clean: 70.5, pgd20: 40}
      - label: TRADES beta 1
        recipe: tiny.yaml
        set: {loss.params.beta: 1}\(extraRowKeys)
    """
}

/// Writes `tiny.yaml` and the spec into `folder`; returns the spec's path.
func writeTable(in folder: String, spec: String = tinySpec()) throws -> String {
    try tinyRecipe.write(toFile: folder + "/tiny.yaml", atomically: true, encoding: .utf8)
    try spec.write(toFile: folder + "/spec.yaml", atomically: true, encoding: .utf8)
    return folder + "/spec.yaml"
}

/// The error text of loading a spec written into `folder` (nil when it loads).
func loadError(_ spec: String, in folder: String) -> String? {
    do {
        _ = try TableSpec.load(path: try writeTable(in: folder, spec: spec))
        return nil
    } catch {
        return "\(error)"
    }
}
