import Foundation
import Recipe

/// A problem with the folders a report or landscape was asked for: the message names the
/// file and what is wrong with it.
public struct ReportError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// One line of `metrics.jsonl`: what the trainer wrote at the end of an epoch. A value the
/// trainer could not compute (NaN, ±∞, null, absent) reads as NaN: the curve shows a gap.
public struct EpochMetrics: Sendable {
    public var epoch: Int
    /// Mean of each loss term over the epoch's steps, unweighted, and `total` (the weighted sum).
    public var loss: [String: Double]
    public var learningRate: Double
    public var seconds: Double
    public var samplesPerSecond: Double
    /// Validation accuracies in [0, 1] (`clean` and the selection metric), when evaluated.
    public var validation: [String: Double]
}

/// One stored `eval/*.json` (format rat-eval-1, Sources/Evaluation/Evaluate.swift).
public struct StoredEvaluation: Sendable {
    public var file: String
    public var split: String
    public var examples: Int
    public var checkpoint: String
    public var checkpointHash: String
    public var gitCommit: String
    public var clean: Double?
    public var robust: Double?
    /// Each attack's name, kind, ε and accuracy.
    public var attacks: [(name: String, kind: String, eps: String, accuracy: Double)]
    /// Gradient-masking flags: name and message.
    public var flags: [(name: String, message: String)]
    public var transferFrom: String?
}

/// What a report reads from a run folder (`rat train`'s output): its resolved recipe, its
/// metrics, its stored evaluations and its checkpoints.
public struct RunFolder: Sendable {
    public var url: URL
    public var recipeText: String
    public var recipe: Recipe
    public var epochs: [EpochMetrics]
    /// Lines of metrics.jsonl that could not be read, as "metrics.jsonl:LINE: reason".
    public var unreadableLines: [String]
    public var hasMetricsFile: Bool
    public var evaluations: [StoredEvaluation]
    /// Checkpoint files (`*.safetensors`) with their FNV-1a 64 hash, as `rat eval` records it.
    public var checkpoints: [(name: String, bytes: Int, hash: String)]

    public var name: String { url.standardizedFileURL.lastPathComponent }

    /// Reads a run folder; not a folder, or no `recipe.yaml`, or a recipe that does not load, is an error.
    public init(_ url: URL) throws {
        self.url = url
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder), isFolder.boolValue else {
            throw ReportError("\(url.path): not a run folder (no such folder)")
        }
        let recipePath = url.appendingPathComponent("recipe.yaml").path
        guard let text = try? String(contentsOfFile: recipePath, encoding: .utf8) else {
            throw ReportError("\(url.path): not a run folder: it has no recipe.yaml (rat train writes recipe.yaml, "
                              + "metrics.jsonl and checkpoints into the recipe's output folder)")
        }
        recipeText = text
        recipe = try RecipeLoader.load(path: recipePath)
        (epochs, unreadableLines) = ([], [])
        let metricsPath = url.appendingPathComponent("metrics.jsonl").path
        hasMetricsFile = FileManager.default.fileExists(atPath: metricsPath)
        if hasMetricsFile {
            let lines = (try String(contentsOfFile: metricsPath, encoding: .utf8)).split(separator: "\n", omittingEmptySubsequences: false)
            for (number, line) in lines.enumerated() where !line.trimmingCharacters(in: .whitespaces).isEmpty {
                if let metrics = parseMetrics(String(line)) { epochs.append(metrics) } else {
                    unreadableLines.append("metrics.jsonl:\(number + 1): not a JSON object with an integer 'epoch'")
                }
            }
        }
        evaluations = []
        let evalFolder = url.appendingPathComponent("eval")
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: evalFolder.path)) ?? [])
            .filter { $0.hasSuffix(".json") && !$0.hasSuffix(".partial.json") }.sorted()
        for name in names {
            let path = evalFolder.appendingPathComponent(name).path
            guard let data = FileManager.default.contents(atPath: path),
                  let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                throw ReportError("\(path): not a JSON object (a stored rat eval result was expected)")
            }
            evaluations.append(parseEvaluation(object, file: "eval/" + name))
        }
        checkpoints = []
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []).filter { $0.hasSuffix(".safetensors") }.sorted()
        for file in files {
            let data = try Data(contentsOf: url.appendingPathComponent(file), options: .mappedIfSafe)
            checkpoints.append((file, data.count, fnv1a(data)))
        }
    }
}

/// NaN and infinities are not JSON; a line holding them (or null) still reads, as NaN.
func parseMetrics(_ line: String) -> EpochMetrics? {
    let cleaned = line.replacingOccurrences(of: #"(?<=[:\[,])\s*[-+]?(NaN|nan|Infinity|inf)\b"#, with: "null",
                                            options: .regularExpression)
    guard let object = (try? JSONSerialization.jsonObject(with: Data(cleaned.utf8))) as? [String: Any],
          let epoch = (object["epoch"] as? NSNumber)?.intValue else { return nil }
    func number(_ value: Any?) -> Double { (value as? NSNumber)?.doubleValue ?? .nan }
    func numbers(_ value: Any?) -> [String: Double] { ((value as? [String: Any]) ?? [:]).mapValues(number) }
    return EpochMetrics(epoch: epoch, loss: numbers(object["loss"]), learningRate: number(object["lr"]),
                        seconds: number(object["seconds"]), samplesPerSecond: number(object["samples_per_second"]),
                        validation: numbers(object["val"]))
}

func parseEvaluation(_ object: [String: Any], file: String) -> StoredEvaluation {
    func number(_ key: String, in o: [String: Any] = object) -> Double? { (o[key] as? NSNumber)?.doubleValue }
    let attacks = ((object["attacks"] as? [[String: Any]]) ?? []).map { a in
        (name: a["name"] as? String ?? "?", kind: a["kind"] as? String ?? "?", eps: a["eps"] as? String ?? "?",
         accuracy: number("acc", in: a) ?? .nan)
    }
    let flags = ((object["flags"] as? [[String: Any]]) ?? []).map { f in
        (name: f["name"] as? String ?? "?", message: f["message"] as? String ?? "")
    }
    return StoredEvaluation(file: file, split: object["split"] as? String ?? "?", examples: (object["n_examples"] as? NSNumber)?.intValue ?? 0,
                            checkpoint: object["checkpoint"] as? String ?? "?", checkpointHash: object["checkpoint_hash"] as? String ?? "?",
                            gitCommit: object["git_commit"] as? String ?? "unknown", clean: number("clean_acc"),
                            robust: number("robust_acc"), attacks: attacks, flags: flags,
                            transferFrom: object["transfer_from"] as? String)
}

/// FNV-1a 64 of a file's bytes, written as `rat eval` writes `checkpoint_hash`.
public func fnv1a(_ data: Data) -> String {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    data.withUnsafeBytes { bytes in for b in bytes { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 } }
    return String(format: "fnv1a64:%016llx", h)
}
