import Checkpoints
import Foundation

/// Running sums of one epoch (loss terms, steps, images, seconds). A checkpoint written at a
/// stop mid-epoch carries them in its metadata, so that after a resume the epoch's line in
/// `metrics.jsonl` averages the whole epoch, not only the batches after the resume.
struct EpochTotals {
    var sums: [String: Double] = [:]
    var steps = 0
    var samples = 0
    var seconds = 0.0

    init() {}

    var metadata: [String: String] {
        let encoded = (try? JSONSerialization.data(withJSONObject: sums, options: [.sortedKeys])).map { String(decoding: $0, as: UTF8.self) }
        return ["epoch_loss_sums": encoded ?? "{}", "epoch_steps": String(steps), "epoch_samples": String(samples),
                "epoch_seconds": String(seconds)]
    }

    /// The sums stored in a checkpoint written mid-epoch (`batch` > 0); empty at an epoch's
    /// start or for a checkpoint without them (then the epoch's mean covers the batches after the resume).
    init(checkpoint path: String, batch: Int) throws {
        guard batch > 0 else { return }
        let metadata = try SafeTensors.read(path: path).metadata
        guard let text = metadata["epoch_loss_sums"], let steps = Int(metadata["epoch_steps"] ?? ""),
              let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else { return }
        self.sums = object.compactMapValues { ($0 as? NSNumber)?.doubleValue }
        self.steps = steps
        self.samples = Int(metadata["epoch_samples"] ?? "") ?? 0
        self.seconds = Double(metadata["epoch_seconds"] ?? "") ?? 0
    }
}
