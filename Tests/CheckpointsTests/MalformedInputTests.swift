import Checkpoints
import Foundation
import Testing

/// Every way a file can be broken must surface as a `SafeTensorsError` naming the file
/// and the culprit — never a crash.
@Suite struct MalformedInputTests {
    static let goodEntry = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#

    @Test(arguments: [0, 1, 7])
    func fileShorterThanPrefix(byteCount: Int) {
        let data = Data(repeating: 0, count: byteCount)
        #expect(readProblem(data) == .fileTooShort(byteCount: byteCount))
    }

    @Test func headerLengthBeyondFileNamesBothNumbers() throws {
        let data = safetensorsFile(header: Self.goodEntry, buffer: [UInt8](repeating: 0, count: 8), declaredLength: 500)
        #expect(readProblem(data) == .headerLengthExceedsFile(headerLength: 500, fileSize: data.count))
        let huge = safetensorsFile(header: "{}", declaredLength: .max)
        #expect(readProblem(huge) == .headerLengthExceedsFile(headerLength: .max, fileSize: 10))

        let error = #expect(throws: SafeTensorsError.self) { try SafeTensors.read(data: data, source: "x.safetensors") }
        let message = error?.description ?? ""
        #expect(message.hasPrefix("x.safetensors: ") && message.contains("500") && message.contains("\(data.count)"))
    }

    @Test func invalidJSONReportsByteOffset() {
        // The stray comma is header byte 7, i.e. file byte 15; with a two-byte "é" before
        // it, byte 8 / file byte 16 (offsets count bytes, not characters).
        for (header, expectedOffset) in [(#"{"a":1,,}"#, 15), (#"{"é":1,,}"#, 16)] {
            let problem = readProblem(safetensorsFile(header: header))
            guard case .invalidJSON(_, let offset)? = problem else {
                Issue.record("expected invalidJSON, got \(String(describing: problem))")
                continue
            }
            #expect(offset == expectedOffset, "\(header)")
        }
        #expect(readProblem(safetensorsFile(header: #"{"a": "#)) != nil)
        #expect(readProblem(safetensorsFile(header: "[1, 2]")) == .invalidJSON(detail: "header must start with '{'", byteOffset: 8))
        #expect(readProblem(safetensorsFile(header: "")) == .invalidJSON(detail: "header must start with '{'", byteOffset: 8))
    }

    @Test func invalidUTF8ReportsByteOffset() {
        var data = safetensorsFile(header: #"{"ab":1}"#)
        data[10] = 0xFF  // inside the key
        #expect(readProblem(data) == .headerNotUTF8(byteOffset: 10))
    }

    @Test func offsetsOutOfRangeNameTheTensor() {
        let header = #"{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#
        let problem = readProblem(safetensorsFile(header: header, buffer: [UInt8](repeating: 0, count: 8)))
        #expect(problem == .offsetsOutOfRange(tensor: "w", begin: 0, end: 16, bufferSize: 8))
    }

    @Test func offsetsDisagreeingWithShapeNameTheTensor() {
        let header = #"{"w":{"dtype":"F64","shape":[2,2],"data_offsets":[0,16]}}"#
        let problem = readProblem(safetensorsFile(header: header, buffer: [UInt8](repeating: 0, count: 16)))
        #expect(problem == .sizeMismatch(tensor: "w", dtype: .float64, shape: [2, 2], expectedBytes: 32, actualBytes: 16))
    }

    @Test func overlappingTensorsAreNamed() {
        let header = #"{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[4],"data_offsets":[2,6]}}"#
        let problem = readProblem(safetensorsFile(header: header, buffer: [UInt8](repeating: 0, count: 6)))
        #expect(problem == .overlappingTensors(tensor: "b", overlapped: "a"))
    }

    @Test func gapsAndTrailingBytesAreRejected() {
        let gap = #"{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"U8","shape":[2],"data_offsets":[4,6]}}"#
        #expect(readProblem(safetensorsFile(header: gap, buffer: [UInt8](repeating: 0, count: 6)))
            == .gapBeforeTensor(tensor: "b", expectedBegin: 2, actualBegin: 4))
        let trailing = #"{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}"#
        #expect(readProblem(safetensorsFile(header: trailing, buffer: [UInt8](repeating: 0, count: 5)))
            == .unusedTrailingBytes(count: 3))
    }

    @Test func unknownDTypeIsNamed() {
        let header = #"{"q":{"dtype":"F4","shape":[2],"data_offsets":[0,1]}}"#
        #expect(readProblem(safetensorsFile(header: header, buffer: [0])) == .unknownDType(tensor: "q", dtype: "F4"))
    }

    /// Structurally wrong entries: each must be a tidy error, whatever JSON type shows up.
    @Test(arguments: [
        #"{"t":[1,2]}"#,
        #"{"t":{"shape":[1],"data_offsets":[0,1]}}"#,
        #"{"t":{"dtype":5,"shape":[1],"data_offsets":[0,1]}}"#,
        #"{"t":{"dtype":"U8","shape":[-1],"data_offsets":[0,1]}}"#,
        #"{"t":{"dtype":"U8","shape":[1.5],"data_offsets":[0,1]}}"#,
        #"{"t":{"dtype":"U8","shape":[true],"data_offsets":[0,1]}}"#,
        #"{"t":{"dtype":"U8","shape":"1","data_offsets":[0,1]}}"#,
        #"{"t":{"dtype":"U8","shape":[1],"data_offsets":[0]}}"#,
        #"{"t":{"dtype":"U8","shape":[1],"data_offsets":[0,1,2]}}"#,
        #"{"t":{"dtype":"U8","shape":[1],"data_offsets":[1,0]}}"#,
        #"{"t":{"dtype":"U8","shape":[1],"data_offsets":[0,18446744073709551615]}}"#,
        #"{"t":{"dtype":"F64","shape":[4611686018427387904,4],"data_offsets":[0,1]}}"#,
    ])
    func malformedEntryNamesTheTensor(header: String) {
        let problem = readProblem(safetensorsFile(header: header, buffer: [0]))
        guard case .invalidTensorEntry(let tensor, _)? = problem else {
            Issue.record("expected invalidTensorEntry for \(header), got \(String(describing: problem))")
            return
        }
        #expect(tensor == "t")
    }

    @Test func metadataValuesMustBeStrings() {
        #expect(readProblem(safetensorsFile(header: #"{"__metadata__":{"epoch":3}}"#))
            == .invalidMetadata(key: "epoch", reason: "value is not a string"))
        #expect(readProblem(safetensorsFile(header: #"{"__metadata__":["x"]}"#))
            == .invalidMetadata(key: "__metadata__", reason: "must be a JSON object of strings"))
        #expect(readProblem(safetensorsFile(header: #"{"__metadata__":{"k":"v"}}     "#)) == nil, "space padding is legal")
    }

    @Test func unreadableFileNamesThePath() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/absent.safetensors"
        let error = #expect(throws: SafeTensorsError.self) { try SafeTensors.read(path: path) }
        #expect(error?.source == path)
        guard case .io(let operation, _)? = error?.problem else {
            Issue.record("expected io error, got \(String(describing: error))")
            return
        }
        #expect(operation == "open")
    }

    /// Truncating a valid file at every length below its size must fail cleanly.
    @Test func everyTruncationOfAValidFileFailsCleanly() throws {
        var checkpoint = SafeTensors(metadata: ["k": "v"])
        try checkpoint.add("a", float32: [1, 2, 3], shape: [3])
        try checkpoint.add("b", int64: [4], shape: [1])
        let full = checkpoint.serialized()
        for length in 0..<full.count {
            #expect(readProblem(full.prefix(length)) != nil, "length \(length)")
        }
        #expect(readProblem(full) == nil)
    }

    /// Corrupting any single byte of the prefix or header must never crash; the result is
    /// either a clean error or (for harmless edits such as a changed metadata letter) a
    /// successful read. Runs ~1,600 corrupted files.
    @Test func everySingleByteCorruptionIsHandled() throws {
        var checkpoint = SafeTensors(metadata: ["k": "v"])
        try checkpoint.add("a", float32: [1, 2, 3], shape: [3])
        try checkpoint.add("b", int64: [4], shape: [1])
        let full = checkpoint.serialized()
        let headerEnd = 8 + Int(full[0]) + Int(full[1]) << 8
        var errors = 0
        for position in 0..<headerEnd {
            for replacement in [0x00, 0xFF, 0x80, UInt8(ascii: "9"), UInt8(ascii: "\""), UInt8(ascii: "]"),
                                UInt8(ascii: "-"), UInt8(ascii: "{")] as [UInt8] {
                var corrupted = full
                corrupted[position] = replacement
                if readProblem(corrupted) != nil { errors += 1 }
            }
        }
        #expect(errors > 0)
    }
}
