import Checkpoints
import Foundation
import Testing

/// The reference-engine golden file (`small-cnn-taylor.safetensors`), read through the
/// public API only. The listing is printed so other tests can be written against it.
@Suite struct GoldenFileTests {
    static func goldenPath() throws -> String {
        let url = Bundle.module.url(forResource: "small-cnn-taylor", withExtension: "safetensors", subdirectory: "Fixtures")
        return try #require(url).path
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
        try golden.write(to: directory + "/copy.safetensors")
        #expect(try SafeTensors.read(path: directory + "/copy.safetensors") == golden)
        #expect(try SafeTensors.read(data: Data(contentsOf: URL(fileURLWithPath: Self.goldenPath()))) == golden)
    }
}
