import Checkpoints
import Foundation

/// A fresh directory per test, so parallel tests never see each other's files.
func makeTemporaryDirectory() throws -> String {
    let path = NSTemporaryDirectory() + "checkpoints-tests-" + UUID().uuidString
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// Assembles a (possibly malformed) safetensors file from its parts.
func safetensorsFile(header: String, buffer: [UInt8] = [], declaredLength: UInt64? = nil) -> Data {
    let headerBytes = Array(header.utf8)
    let length = declaredLength ?? UInt64(headerBytes.count)
    var data = Data()
    withUnsafeBytes(of: length.littleEndian) { data.append(contentsOf: $0) }
    data.append(contentsOf: headerBytes)
    data.append(contentsOf: buffer)
    return data
}

/// The problem reported for reading `data`, or nil if it parsed.
func readProblem(_ data: Data) -> SafeTensorsError.Problem? {
    do {
        _ = try SafeTensors.read(data: data, source: "bad.safetensors")
        return nil
    } catch {
        return error.problem
    }
}

func littleEndianBytes<Word: FixedWidthInteger>(_ values: [Word]) -> [UInt8] {
    values.flatMap { value in withUnsafeBytes(of: value.littleEndian, Array.init) }
}
