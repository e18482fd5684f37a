import Foundation
import Recipe
import Testing
import Training

@Test("the trainer refuses a batch larger than the train split, naming schedule.batch and the split size")
func trainerRefusesOversizedBatch() throws {
    let out = temporaryFolder("bigbatch")
    defer { try? FileManager.default.removeItem(atPath: out) }
    // The embedded dataset has 10 000 train images; data.val carves none (it has a val split).
    let text = errorText { _ = try Trainer(recipe: try quickstart(["schedule.batch=10001"], output: out)) { _ in } }
    #expect(text?.contains("schedule.batch (10001) is larger than the 'train' split (10000 images)") == true, "\(text ?? "no error")")
    #expect(text?.hasPrefix("--set:") == true, "located at the override: \(text ?? "")")
    #expect(!FileManager.default.fileExists(atPath: out + "/last.safetensors"))
    let zero = errorText { _ = try Trainer(recipe: try quickstart(["schedule.batch=0"], output: out)) { _ in } }
    #expect(zero?.contains("'schedule.batch' must be ≥ 1") == true, "\(zero ?? "no error")")
}
