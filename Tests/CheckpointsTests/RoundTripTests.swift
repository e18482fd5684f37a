import Checkpoints
import Foundation
import Testing

@Suite struct RoundTripTests {
    /// One tensor of every dtype, including a scalar and an empty tensor, plus metadata
    /// that needs JSON escaping.
    static func everyDTypeCheckpoint() throws -> SafeTensors {
        var checkpoint = SafeTensors(metadata: [
            "format": "pt", "note": "quote \" backslash \\ newline \n tab \t bell \u{7} é ✓", "": "empty key",
        ])
        try checkpoint.add("weights/f32", float32: [1.5, -2.25, .infinity, 0x1p-149], shape: [2, 2])
        try checkpoint.add("weights/f64", float64: [.pi, -0.0, 1e300], shape: [3])
        try checkpoint.add("step", int64: [Int64.min, -1, Int64.max], shape: [3])
        try checkpoint.add("mask", uint8: [0, 1, 255], shape: [1, 3])
        try checkpoint.add("scalar", float64: [42], shape: [])
        try checkpoint.add("empty", float32: [], shape: [0, 5])
        for dtype in DType.allCases where ![.float32, .float64, .int64, .uint8].contains(dtype) {
            let bytes = (0..<(2 * 3 * dtype.byteSize)).map { UInt8(truncatingIfNeeded: $0 * 37 + 1) }
            try checkpoint.add("raw/\(dtype.rawValue)", dtype: dtype, shape: [2, 3], bytes: bytes)
        }
        return checkpoint
    }

    @Test func everyDTypeRoundTripsThroughFileAndData() throws {
        let original = try Self.everyDTypeCheckpoint()
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/every-dtype.safetensors"
        try original.write(to: path)

        let fromFile = try SafeTensors.read(path: path)
        #expect(fromFile == original)
        #expect(fromFile.names == original.names, "insertion order survives via data offsets")
        #expect(fromFile.metadata == original.metadata)
        #expect(try SafeTensors.read(data: original.serialized()) == original)
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == original.serialized())

        #expect(try fromFile.float32("weights/f32") == [1.5, -2.25, .infinity, 0x1p-149])
        #expect(try fromFile.float64("weights/f64").map(\.bitPattern) == [Double.pi, -0.0, 1e300].map(\.bitPattern))
        #expect(try fromFile.int64("step") == [Int64.min, -1, Int64.max])
        #expect(try fromFile.uint8("mask") == [0, 1, 255])
        #expect(try fromFile.shape("scalar") == [])
        #expect(try fromFile.float64("scalar") == [42])
        #expect(try fromFile.shape("empty") == [0, 5])
        #expect(try fromFile.float32("empty") == [])
        for dtype in DType.allCases {
            #expect(fromFile.names.contains { (try? fromFile.dtype($0)) == dtype }, "dtype \(dtype.rawValue) present")
        }
    }

    @Test func atomicWriteLeavesOnlyTheFinalFile() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/model.safetensors"
        var checkpoint = SafeTensors()
        try checkpoint.add("a", float32: [1, 2, 3], shape: [3])
        try checkpoint.write(to: path)
        try checkpoint.add("b", float64: [4], shape: [1])
        try checkpoint.write(to: path)  // replaces the first file

        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["model.safetensors"])
        #expect(try SafeTensors.read(path: path).names == ["a", "b"])
    }

    @Test func failedWriteNamesThePathAndLeavesNothingBehind() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/missing-subdirectory/model.safetensors"
        let error = #expect(throws: SafeTensorsError.self) { try SafeTensors().write(to: path) }
        #expect(error?.description.contains(path) == true)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).isEmpty)
    }

    /// Keys sorted, data in insertion order, exact integers, 8-byte aligned data buffer.
    @Test func headerIsDeterministicSortedAndAligned() throws {
        var checkpoint = SafeTensors(metadata: ["z": "1", "a": "2"])
        try checkpoint.add("zeta", uint8: [UInt8](repeating: 7, count: 1_000_000), shape: [1000, 1000])
        try checkpoint.add("alpha", float64: [1], shape: [1])
        let bytes = [UInt8](checkpoint.serialized())
        let headerLength = Int(bytes[0..<8].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
        #expect(headerLength % 8 == 0)
        let header = String(decoding: bytes[8..<(8 + headerLength)], as: UTF8.self)
        print("header:", header)
        #expect(header.hasPrefix(#"{"__metadata__":{"a":"2","z":"1"},"alpha":"#))
        #expect(header.contains(#""alpha":{"dtype":"F64","shape":[1],"data_offsets":[1000000,1000008]}"#))
        #expect(header.contains(#""zeta":{"dtype":"U8","shape":[1000,1000],"data_offsets":[0,1000000]}"#))
        #expect(bytes.count == 8 + headerLength + 1_000_008)

        var reordered = SafeTensors(metadata: ["a": "2", "z": "1"])
        try reordered.add("zeta", uint8: [UInt8](repeating: 7, count: 1_000_000), shape: [1000, 1000])
        try reordered.add("alpha", float64: [1], shape: [1])
        #expect(reordered.serialized() == checkpoint.serialized())
    }

    @Test func accessorsConvertBetweenNumericDTypes() throws {
        var checkpoint = SafeTensors()
        try checkpoint.add("f64", float64: [0.5, -3], shape: [2])
        try checkpoint.add("f32", float32: [0.25, 7], shape: [2])
        try checkpoint.add("i64", int64: [-4, 1 << 40], shape: [2])
        try checkpoint.add("f16", dtype: .float16, shape: [3], bytes: littleEndianBytes([UInt16(0x3C00), 0xC000, 0x0001]))
        try checkpoint.add("bf16", dtype: .bfloat16, shape: [1], bytes: littleEndianBytes([UInt16(0x3FC0)]))
        try checkpoint.add("flag", dtype: .bool, shape: [2], bytes: [0, 1])

        #expect(try checkpoint.float32("f64") == [0.5, -3])
        #expect(try checkpoint.float32("i64") == [-4, 0x1p40])
        #expect(try checkpoint.float64("f32") == [0.25, 7])
        #expect(try checkpoint.float64("i64") == [-4, 0x1p40])
        #expect(try checkpoint.float64("f16") == [1, -2, 0x1p-24])
        #expect(try checkpoint.float32("bf16") == [1.5])
        #expect(try checkpoint.int64("flag") == [0, 1])

        let error = #expect(throws: SafeTensorsError.self) { try checkpoint.float64("flag") }
        #expect(error?.problem == .notConvertible(tensor: "flag", dtype: .bool, target: "Double"))
        #expect(error?.description.contains("'flag'") == true)
        #expect(throws: SafeTensorsError.self) { try checkpoint.int64("f32") }
        #expect(throws: SafeTensorsError.self) { try checkpoint.uint8("f64") }
    }

    @Test func buildersRejectInconsistentTensors() throws {
        var checkpoint = SafeTensors()
        try checkpoint.add("w", float32: [1, 2], shape: [2])
        let duplicate = #expect(throws: SafeTensorsError.self) { try checkpoint.add("w", float32: [1], shape: [1]) }
        #expect(duplicate?.problem == .duplicateTensor(name: "w"))
        let reserved = #expect(throws: SafeTensorsError.self) {
            try checkpoint.add("__metadata__", uint8: [1], shape: [1])
        }
        #expect(reserved?.problem == .reservedName(name: "__metadata__"))
        let mismatch = #expect(throws: SafeTensorsError.self) { try checkpoint.add("v", float64: [1, 2, 3], shape: [2, 2]) }
        #expect(mismatch?.problem == .elementCountMismatch(tensor: "v", shape: [2, 2], elementCount: 3))
        #expect(throws: SafeTensorsError.self) { try checkpoint.add("n", int64: [], shape: [-1]) }
        #expect(throws: SafeTensorsError.self) { try checkpoint.add("r", dtype: .float32, shape: [1], bytes: [1, 2, 3]) }
        #expect(checkpoint.names == ["w"])

        #expect(checkpoint.remove("w") != nil)
        try checkpoint.add("w", float64: [3], shape: [1])
        #expect(try checkpoint.float64("w") == [3])
    }

    @Test func missingTensorListsClosestNames() throws {
        var checkpoint = SafeTensors(source: "run/step-100.safetensors")
        for name in ["param/conv1.weight", "param/conv2.weight", "param/fc.bias", "grad/conv1.weight", "label"] {
            try checkpoint.add(name, float32: [0], shape: [1])
        }
        let error = #expect(throws: SafeTensorsError.self) { try checkpoint.float32("param/conv1.weights") }
        guard case .missingTensor(let name, let closest)? = error?.problem else {
            Issue.record("expected missingTensor, got \(String(describing: error))")
            return
        }
        #expect(name == "param/conv1.weights")
        #expect(closest.first == "param/conv1.weight")
        #expect(error?.description.hasPrefix("run/step-100.safetensors: ") == true)
        print(error?.description ?? "")
    }
}
