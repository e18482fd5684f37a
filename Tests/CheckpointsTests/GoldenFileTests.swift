import Checkpoints
import Foundation
import Testing

/// The reference-engine golden file (`Tests/Fixtures/small-cnn-taylor.safetensors`, written by
/// scripts/golden/make-small-cnn-taylor.py), read through the public API only. The listing is
/// printed so other tests can be written against it.
@Suite struct GoldenFileTests {
    /// Shared with GraphTests: Tests/Fixtures/, found from this file's place in Tests/CheckpointsTests/.
    static func goldenPath() throws -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/small-cnn-taylor.safetensors").path
    }

    @Test func listsAndValidatesTheGoldenFile() throws {
        let golden = try SafeTensors.read(path: Self.goldenPath())

        print("golden file: \(golden.count) tensors")
        for name in golden.names {
            let tensor = try golden.tensor(name)
            print("  \(name)  \(tensor.dtype.rawValue)  \(tensor.shape)")
        }
        print("__metadata__:")
        for key in golden.metadata.keys.sorted() {
            print("  \(key): \(golden.metadata[key] ?? "")")
        }

        #expect(golden.count == 47)
        #expect(!golden.metadata.isEmpty)
        #expect(golden.metadata["weights"] != nil && golden.metadata["model"] != nil)
        for name in golden.names {
            let tensor = try golden.tensor(name)
            let elements = tensor.shape.reduce(1, *)
            #expect(tensor.bytes.count == elements * tensor.dtype.byteSize, "\(name)")
            #expect(tensor.dtype == .float64, "\(name): metadata says float64 throughout")
            #expect(try golden.float64(name).allSatisfy(\.isFinite), "\(name)")
        }
        // Parameters, gradients and noise directions share one shape per parameter.
        let parameters = golden.names.filter { $0.hasPrefix("param/") }.map { String($0.dropFirst("param/".count)) }
        #expect(parameters.count == 11)
        for parameter in parameters {
            #expect(try golden.shape("grad/\(parameter)") == golden.shape("param/\(parameter)"))
            #expect(try golden.shape("noise/\(parameter)") == golden.shape("param/\(parameter)"))
        }
        #expect(try golden.shape("param/conv1.weight") == [32, 3, 3, 3])
        #expect(try golden.shape("input/clean") == [6, 3, 12, 12])
        #expect(try golden.shape("logits/clean") == [6, 10])
    }

    /// The loss terms combine with the weights stated in the metadata.
    @Test func totalLossIsTheWeightedSumFromMetadata() throws {
        let golden = try SafeTensors.read(path: Self.goldenPath())
        let weightsJSON = try #require(golden.metadata["weights"])
        let weights = try #require(try JSONSerialization.jsonObject(with: Data(weightsJSON.utf8)) as? [String: Double])
        var weightedSum = 0.0
        for (term, weight) in weights {
            weightedSum += weight * (try golden.float64("loss/\(term)").first ?? .nan)
        }
        let total = try #require(try golden.float64("loss/total").first)
        #expect(abs(weightedSum - total) <= 1e-12 * abs(total))
        let labels = try golden.float64("label")
        #expect(labels.allSatisfy { $0 >= 0 && $0 < 10 && $0 == $0.rounded() })
    }

    /// Re-writing the golden file through our writer and reading it back changes nothing.
    @Test func goldenFileRoundTrips() throws {
        let golden = try SafeTensors.read(path: Self.goldenPath())
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try golden.write(to: directory + "/copy.safetensors")
        #expect(try SafeTensors.read(path: directory + "/copy.safetensors") == golden)
        #expect(try SafeTensors.read(data: Data(contentsOf: URL(fileURLWithPath: Self.goldenPath()))) == golden)
    }
}

func fixturePath(_ name: String) throws -> String {
    let url = Bundle.module.url(forResource: name, withExtension: "safetensors", subdirectory: "Fixtures")
    return try #require(url).path
}

/// `reference-written.safetensors` was produced by the Hugging Face reference
/// (`safetensors.numpy.save_file`, v0.8.0), which orders data by alignment then name and
/// writes the JSON in data order — the reader must not depend on either.
@Suite struct ReferenceInteropTests {
    @Test func readsAFileWrittenByTheReferenceImplementation() throws {
        let file = try SafeTensors.read(path: fixturePath("reference-written"))
        #expect(file.names == ["d", "f", "c", "b", "a", "e"], "ascending data offset")
        #expect(file.metadata == ["writer": "safetensors 0.8.0 (python, numpy)", "unicode": "é ✓"])
        #expect(try file.int64("d") == [-1, 1 << 40])
        #expect(try file.shape("f") == [0, 3])
        #expect(try file.float64("f") == [])
        #expect(try file.float32("c") == [0.5, 0.5, 0.5, 0.5])
        #expect(try file.int64("b") == [-2, -1, 0, 1, 2, 3])
        #expect(try file.dtype("b") == .int32)
        #expect(try file.float32("a") == [1.5, -2.5])
        #expect(try file.shape("e") == [])
        #expect(try file.uint8("e") == [7])

        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try file.write(to: directory + "/rewritten.safetensors")
        #expect(try SafeTensors.read(path: directory + "/rewritten.safetensors") == file)
    }
}
