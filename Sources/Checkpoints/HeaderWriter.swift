/// Serializes the JSON header by hand so that integers are printed exactly (no `1e+06`,
/// no `.0`) and key order is fixed: `__metadata__` first, then tensor names sorted by UTF-8
/// bytes, then metadata keys sorted the same way — the same bytes for the same checkpoint.
enum HeaderWriter {
    /// The header, space-padded so the data buffer starts at an 8-byte-aligned file offset.
    static func header(for tensors: [(name: String, tensor: SafeTensors.Tensor)], metadata: [String: String]) -> [UInt8] {
        var members: [String] = []
        if !metadata.isEmpty {
            let pairs = sortedByUTF8(Array(metadata.keys)).map { key in
                "\(quoted(key)):\(quoted(metadata[key] ?? ""))"
            }
            members.append("\(quoted(SafeTensors.metadataKey)):{\(pairs.joined(separator: ","))}")
        }
        // Data offsets follow the checkpoint's own (insertion) order; only the JSON is sorted.
        var offset = 0
        var entriesByName: [String: String] = [:]
        for (name, tensor) in tensors {
            let end = offset + tensor.bytes.count
            let shape = tensor.shape.map(String.init).joined(separator: ",")
            entriesByName[name] = "{\"dtype\":\"\(tensor.dtype.rawValue)\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(end)]}"
            offset = end
        }
        for name in sortedByUTF8(Array(entriesByName.keys)) {
            members.append("\(quoted(name)):\(entriesByName[name] ?? "")")
        }
        var bytes = Array("{\(members.joined(separator: ","))}".utf8)
        let padding = (8 - bytes.count % 8) % 8
        bytes.append(contentsOf: repeatElement(UInt8(ascii: " "), count: padding))
        return bytes
    }

    static func sortedByUTF8(_ keys: [String]) -> [String] {
        keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    /// A JSON string literal; non-ASCII passes through as UTF-8, control characters escape.
    static func quoted(_ text: String) -> String {
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                result += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result + "\""
    }
}
