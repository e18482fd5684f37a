import Foundation

/// One validated tensor entry of a safetensors header; offsets are relative to the data buffer.
struct HeaderEntry: Sendable {
    let name: String
    let dtype: DType
    let shape: [Int]
    let begin: Int
    let end: Int
}

/// Validation of the untrusted parts of a file: the length prefix and the JSON header.
/// Everything here treats input as hostile — no force unwraps, every index guarded.
enum HeaderParser {
    static let prefixSize = 8

    /// Reads the little-endian u64 header length from the file's first 8 bytes and checks
    /// that the header fits in a file of `fileSize` bytes.
    static func headerLength(prefix: [UInt8], fileSize: Int, source: String) throws(SafeTensorsError) -> Int {
        guard fileSize >= prefixSize, prefix.count >= prefixSize else {
            throw SafeTensorsError(source: source, problem: .fileTooShort(byteCount: fileSize))
        }
        let length = prefix.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        guard length <= UInt64(fileSize - prefixSize) else {
            throw SafeTensorsError(source: source, problem: .headerLengthExceedsFile(headerLength: length, fileSize: fileSize))
        }
        return Int(length)
    }

    /// Parses and validates the JSON header. Returns entries sorted by data offset, which
    /// is the order the reader presents tensors in.
    static func parse(_ header: [UInt8], bufferSize: Int, source: String)
        throws(SafeTensorsError) -> (entries: [HeaderEntry], metadata: [String: String]) {
        func fail(_ problem: SafeTensorsError.Problem) -> SafeTensorsError {
            SafeTensorsError(source: source, problem: problem)
        }
        if let badOffset = firstInvalidUTF8Offset(header) {
            throw fail(.headerNotUTF8(byteOffset: prefixSize + badOffset))
        }
        // The reference implementation insists on '{' first; JSONSerialization alone would
        // also accept leading whitespace, which no conforming writer produces.
        guard header.first == UInt8(ascii: "{") else {
            throw fail(.invalidJSON(detail: "header must start with '{'", byteOffset: prefixSize))
        }
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: Data(header))
        } catch {
            let detail = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? "\(error)"
            throw fail(.invalidJSON(detail: detail, byteOffset: characterIndex(in: detail).map { $0 + prefixSize }))
        }
        guard let root = object as? [String: Any] else {
            throw fail(.invalidJSON(detail: "top level is not a JSON object", byteOffset: prefixSize))
        }

        var metadata: [String: String] = [:]
        var entries: [HeaderEntry] = []
        for (name, value) in root {
            if name == SafeTensors.metadataKey {
                metadata = try parseMetadata(value, source: source)
            } else {
                entries.append(try parseEntry(name: name, value, bufferSize: bufferSize, source: source))
            }
        }
        entries.sort { ($0.begin, $0.end, $0.name) < ($1.begin, $1.end, $1.name) }
        try checkContiguous(entries, bufferSize: bufferSize, source: source)
        return (entries, metadata)
    }

    private static func parseMetadata(_ value: Any, source: String) throws(SafeTensorsError) -> [String: String] {
        if value is NSNull { return [:] }
        guard let object = value as? [String: Any] else {
            throw SafeTensorsError(source: source, problem: .invalidMetadata(
                key: SafeTensors.metadataKey, reason: "must be a JSON object of strings"))
        }
        var metadata: [String: String] = [:]
        for (key, entry) in object {
            guard let text = entry as? String else {
                throw SafeTensorsError(source: source, problem: .invalidMetadata(key: key, reason: "value is not a string"))
            }
            metadata[key] = text
        }
        return metadata
    }

    private static func parseEntry(name: String, _ value: Any, bufferSize: Int, source: String)
        throws(SafeTensorsError) -> HeaderEntry {
        func invalid(_ reason: String) -> SafeTensorsError {
            SafeTensorsError(source: source, problem: .invalidTensorEntry(tensor: name, reason: reason))
        }
        guard let fields = value as? [String: Any] else { throw invalid("entry is not a JSON object") }
        guard let dtypeName = fields["dtype"] as? String else { throw invalid("missing or non-string \"dtype\"") }
        guard let dtype = DType(rawValue: dtypeName) else {
            throw SafeTensorsError(source: source, problem: .unknownDType(tensor: name, dtype: dtypeName))
        }
        guard let shapeValues = fields["shape"] as? [Any],
              case let shape = shapeValues.compactMap(nonNegativeInteger), shape.count == shapeValues.count else {
            throw invalid("\"shape\" must be an array of non-negative integers")
        }
        guard let offsetValues = fields["data_offsets"] as? [Any], offsetValues.count == 2,
              let begin = nonNegativeInteger(offsetValues[0]), let end = nonNegativeInteger(offsetValues[1]) else {
            throw invalid("\"data_offsets\" must be two non-negative integers [begin, end]")
        }
        guard begin <= end else { throw invalid("data_offsets begin \(begin) is after end \(end)") }
        guard end <= bufferSize else {
            throw SafeTensorsError(source: source, problem: .offsetsOutOfRange(
                tensor: name, begin: begin, end: end, bufferSize: bufferSize))
        }
        guard let expectedBytes = ShapeMath.byteCount(shape, dtype) else {
            throw invalid("shape \(shape) is too large to address")
        }
        guard expectedBytes == end - begin else {
            throw SafeTensorsError(source: source, problem: .sizeMismatch(
                tensor: name, dtype: dtype, shape: shape, expectedBytes: expectedBytes, actualBytes: end - begin))
        }
        return HeaderEntry(name: name, dtype: dtype, shape: shape, begin: begin, end: end)
    }

    /// The format requires tensors to tile the data buffer exactly: no overlaps (aliasing
    /// would make in-place loading unsafe), no gaps, no trailing bytes.
    private static func checkContiguous(_ sortedEntries: [HeaderEntry], bufferSize: Int, source: String)
        throws(SafeTensorsError) {
        var expectedBegin = 0
        var previousName = ""
        for entry in sortedEntries {
            if entry.begin < expectedBegin {
                throw SafeTensorsError(source: source, problem: .overlappingTensors(
                    tensor: entry.name, overlapped: previousName))
            }
            if entry.begin > expectedBegin {
                throw SafeTensorsError(source: source, problem: .gapBeforeTensor(
                    tensor: entry.name, expectedBegin: expectedBegin, actualBegin: entry.begin))
            }
            expectedBegin = entry.end
            previousName = entry.name
        }
        if expectedBegin < bufferSize {
            throw SafeTensorsError(source: source, problem: .unusedTrailingBytes(count: bufferSize - expectedBegin))
        }
    }

    /// JSON integers only: Foundation would happily bridge `true` or `1e3` to an Int.
    private static func nonNegativeInteger(_ value: Any) -> Int? {
        guard let number = value as? NSNumber else { return nil }
        let kind = String(cString: number.objCType)
        guard kind != "c", kind != "B", kind != "d", kind != "f" else { return nil }
        guard let integer = value as? Int, integer >= 0 else { return nil }
        return integer
    }

    private static func firstInvalidUTF8Offset(_ bytes: [UInt8]) -> Int? {
        var parser = Unicode.UTF8.ForwardParser()
        var iterator = bytes.makeIterator()
        var offset = 0
        while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid(let encoded): offset += encoded.count
            case .emptyInput: return nil
            case .error: return offset
            }
        }
    }

    /// Foundation reports parse errors as "... around character N." (0-based, bytes).
    private static func characterIndex(in detail: String) -> Int? {
        guard let range = detail.range(of: "character ") else { return nil }
        let digits = detail[range.upperBound...].prefix { $0.isASCII && $0.isNumber }
        return Int(digits)
    }
}
