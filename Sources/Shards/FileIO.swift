#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Whole-file reads and writes with POSIX calls: no Foundation.Data copies, and errors that
/// name the file. Shards are tens of megabytes, so reading a file at once is the fast path.
public enum FileBytes {
    public static func read(_ path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else {
            throw DataFormatError(.io, file: path, field: "file", "cannot open: \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw DataFormatError(.io, file: path, field: "file", "cannot stat: \(String(cString: strerror(errno)))")
        }
        let size = Int(info.st_size)
        var failure: DataFormatError?
        let bytes = [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
            var done = 0
            while done < size {
                let got = Glibc.read(fd, buffer.baseAddress! + done, size - done)
                if got < 0 && errno == EINTR { continue }
                if got <= 0 {
                    failure = DataFormatError(.io, file: path, field: "file", offset: done,
                                              "read failed: \(got < 0 ? String(cString: strerror(errno)) : "unexpected end of file")")
                    break
                }
                done += got
            }
            initialized = done
        }
        if let failure { throw failure }
        return bytes
    }

    public static func write(_ bytes: [UInt8], to path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else {
            throw DataFormatError(.io, file: path, field: "file", "cannot create: \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        try bytes.withUnsafeBytes { raw in
            var done = 0
            while done < raw.count {
                let wrote = Glibc.write(fd, raw.baseAddress! + done, raw.count - done)
                if wrote < 0 && errno == EINTR { continue }
                guard wrote > 0 else {
                    throw DataFormatError(.io, file: path, field: "file", offset: done,
                                          "write failed: \(String(cString: strerror(errno)))")
                }
                done += wrote
            }
        }
    }

    public static func write(_ text: String, to path: String) throws {
        try write(Array(text.utf8), to: path)
    }
}
