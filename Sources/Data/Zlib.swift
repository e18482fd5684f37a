import CZlib
import Shards

/// zlib's inflate for the two wrappers our sources use: zlib streams (MATLAB's miCOMPRESSED
/// elements) and gzip files (IDX .gz). Errors name the file and the byte offset in it.
public enum Zlib {
    public enum Wrapper {
        case zlib, gzip
        var windowBits: Int32 { self == .zlib ? 15 : 15 + 16 }
    }

    /// Inflates `input[range]`. `sizeHint` (e.g. gzip's ISIZE trailer) avoids regrowth.
    /// Concatenated gzip members are inflated one after another, as gunzip does.
    public static func inflate(_ input: [UInt8], range: Range<Int>? = nil, wrapper: Wrapper, sizeHint: Int = 0,
                               file: String, field: String) throws -> [UInt8] {
        let range = range ?? 0..<input.count
        var output = [UInt8](repeating: 0, count: max(sizeHint, 4 * range.count, 1024))
        var produced = 0
        var consumed = 0
        var stream = z_stream()
        guard inflateInit2_(&stream, wrapper.windowBits, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw DataFormatError(.io, file: file, field: field, "cannot initialise zlib")
        }
        defer { inflateEnd(&stream) }
        try input.withUnsafeBytes { source in
            let base = source.baseAddress!.assumingMemoryBound(to: UInt8.self) + range.lowerBound
            while true {
                if produced == output.count { output.append(contentsOf: repeatElement(0, count: output.count)) }
                let status: Int32 = output.withUnsafeMutableBufferPointer { destination in
                    stream.next_in = UnsafeMutablePointer(mutating: base + consumed)
                    stream.avail_in = UInt32(min(range.count - consumed, Int(UInt32.max)))
                    stream.next_out = destination.baseAddress! + produced
                    stream.avail_out = UInt32(min(destination.count - produced, Int(UInt32.max)))
                    let inBefore = Int(stream.avail_in), outBefore = Int(stream.avail_out)
                    let status = CZlib.inflate(&stream, Z_NO_FLUSH)
                    consumed += inBefore - Int(stream.avail_in)
                    produced += outBefore - Int(stream.avail_out)
                    return status
                }
                switch status {
                case Z_STREAM_END:
                    // Another gzip member follows? (magic 1f 8b)
                    if wrapper == .gzip, range.count - consumed >= 2, base[consumed] == 0x1f, base[consumed + 1] == 0x8b {
                        inflateReset(&stream)
                        continue
                    }
                    return
                case Z_OK:
                    continue
                case Z_BUF_ERROR where consumed == range.count:
                    throw DataFormatError(.truncated, file: file, field: field, offset: range.lowerBound + consumed,
                                          "compressed data ends before the end of its stream")
                case Z_BUF_ERROR:
                    continue  // output full; the loop grows it
                default:
                    let message = stream.msg.map { String(cString: $0) } ?? "error \(status)"
                    throw DataFormatError(.corrupt, file: file, field: field, offset: range.lowerBound + consumed,
                                          "invalid \(wrapper == .gzip ? "gzip" : "zlib") data: \(message)")
                }
            }
        }
        output.removeSubrange(produced...)
        return output
    }

    /// gzip-compresses `input` (used by `rat data` tooling and by tests that need IDX .gz files).
    public static func gzip(_ input: [UInt8], level: Int32 = 6) -> [UInt8] {
        deflate(input, windowBits: 15 + 16, level: level)
    }

    /// zlib-format compression, the encoding of MATLAB's miCOMPRESSED elements.
    public static func compress(_ input: [UInt8], level: Int32 = 6) -> [UInt8] {
        deflate(input, windowBits: 15, level: level)
    }

    private static func deflate(_ input: [UInt8], windowBits: Int32, level: Int32) -> [UInt8] {
        var stream = z_stream()
        deflateInit2_(&stream, level, Z_DEFLATED, windowBits, 8, Z_DEFAULT_STRATEGY, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        defer { deflateEnd(&stream) }
        let bound = Int(deflateBound(&stream, UInt(input.count))) + 32
        var output = [UInt8](repeating: 0, count: bound)
        var input = input
        let written: Int = input.withUnsafeMutableBufferPointer { source in
            output.withUnsafeMutableBufferPointer { destination in
                stream.next_in = source.baseAddress
                stream.avail_in = UInt32(source.count)
                stream.next_out = destination.baseAddress
                stream.avail_out = UInt32(destination.count)
                _ = CZlib.deflate(&stream, Z_FINISH)
                return destination.count - Int(stream.avail_out)
            }
        }
        output.removeSubrange(written...)
        return output
    }
}
