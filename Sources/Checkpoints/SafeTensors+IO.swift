import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

extension SafeTensors {
    /// Parses a complete safetensors file held in memory. `source` labels errors.
    public static func read(data: Data, source: String = "<data>") throws(SafeTensorsError) -> SafeTensors {
        // withUnsafeBytes only rethrows untyped errors, so the typed one travels in a Result.
        let result = data.withUnsafeBytes { bytes in
            Result { () throws(SafeTensorsError) -> SafeTensors in try read(bytes: bytes, source: source) }
        }
        return try result.get()
    }

    private static func read(bytes: UnsafeRawBufferPointer, source: String) throws(SafeTensorsError) -> SafeTensors {
        let prefix = Array(bytes.prefix(HeaderParser.prefixSize))
        let headerLength = try HeaderParser.headerLength(prefix: prefix, fileSize: bytes.count, source: source)
        let bufferStart = HeaderParser.prefixSize + headerLength
        let header = Array(bytes[HeaderParser.prefixSize..<bufferStart])
        let parsed = try HeaderParser.parse(header, bufferSize: bytes.count - bufferStart, source: source)
        var checkpoint = SafeTensors(metadata: parsed.metadata, source: source)
        for entry in parsed.entries {
            // In range: the parser checked end <= bufferSize.
            let tensorBytes = Array(bytes[(bufferStart + entry.begin)..<(bufferStart + entry.end)])
            checkpoint.insert(entry.name, Tensor(dtype: entry.dtype, shape: entry.shape, bytes: tensorBytes))
        }
        return checkpoint
    }

    /// Reads a safetensors file. Only the header is parsed before tensor bytes are read,
    /// each straight into its own array, so peak memory is about one copy of the file.
    public static func read(path: String) throws(SafeTensorsError) -> SafeTensors {
        let file = try PosixFile(openForReading: path)
        defer { file.close() }
        let fileSize = try file.size()
        let prefix = try file.read(count: min(HeaderParser.prefixSize, fileSize), at: 0)
        let headerLength = try HeaderParser.headerLength(prefix: prefix, fileSize: fileSize, source: path)
        let header = try file.read(count: headerLength, at: HeaderParser.prefixSize)
        let bufferStart = HeaderParser.prefixSize + headerLength
        let parsed = try HeaderParser.parse(header, bufferSize: fileSize - bufferStart, source: path)
        var checkpoint = SafeTensors(metadata: parsed.metadata, source: path)
        for entry in parsed.entries {
            let tensorBytes = try file.read(count: entry.end - entry.begin, at: bufferStart + entry.begin)
            checkpoint.insert(entry.name, Tensor(dtype: entry.dtype, shape: entry.shape, bytes: tensorBytes))
        }
        return checkpoint
    }

    /// The complete file contents: length prefix, padded JSON header, data buffer.
    public func serialized() -> Data {
        var data = Data()
        for chunk in fileChunks() { data.append(contentsOf: chunk) }
        return data
    }

    /// Writes atomically: the bytes go to `path + ".tmp-<pid>"`, which is fsynced and then
    /// renamed over `path`, so readers (and a crash) see either the old file or the new one,
    /// never a torn checkpoint. The containing directory is fsynced afterwards so the rename
    /// itself survives power loss. Concurrent writers of one path within a process must
    /// serialize themselves, since they would share the temporary name.
    public func write(to path: String) throws(SafeTensorsError) {
        let temporaryPath = path + ".tmp-\(getpid())"
        do throws(SafeTensorsError) {
            let file = try PosixFile(createForWriting: temporaryPath)
            do throws(SafeTensorsError) {
                for chunk in fileChunks() { try file.write(chunk) }
                try file.sync()
            } catch {
                file.close()
                throw error
            }
            try file.closeReportingErrors()
            guard rename(temporaryPath, path) == 0 else {
                throw PosixFile.error(path, "rename \(temporaryPath) to \(path)")
            }
        } catch {
            unlink(temporaryPath)
            throw error
        }
        PosixFile.syncDirectory(containing: path)
    }

    private func fileChunks() -> [[UInt8]] {
        let tensors = orderedTensors
        let header = HeaderWriter.header(for: tensors, metadata: metadata)
        return [ElementCodec.littleEndianBytes([UInt64(header.count)]), header] + tensors.map(\.tensor.bytes)
    }
}

/// A thin owner of a POSIX file descriptor that turns errno into `SafeTensorsError`.
struct PosixFile {
    let descriptor: Int32
    let path: String

    init(openForReading path: String) throws(SafeTensorsError) {
        self.path = path
        descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw Self.error(path, "open") }
    }

    init(createForWriting path: String) throws(SafeTensorsError) {
        self.path = path
        descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw Self.error(path, "create") }
    }

    func size() throws(SafeTensorsError) -> Int {
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw Self.error(path, "stat") }
        return Int(status.st_size)
    }

    /// Reads exactly `count` bytes at `offset`; running out early means the file shrank
    /// underneath us, which is reported rather than returning short data.
    func read(count: Int, at offset: Int) throws(SafeTensorsError) -> [UInt8] {
        var done = 0
        var failure: SafeTensorsError?
        let bytes = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            while done < count, let base = buffer.baseAddress {
                let got = pread(descriptor, base + done, count - done, off_t(offset + done))
                if got > 0 { done += got; continue }
                if got < 0 && errno == EINTR { continue }
                failure = got == 0
                    ? SafeTensorsError(source: path, problem: .io(operation: "read",
                        detail: "file ended at byte \(offset + done), expected \(count - done) more (modified while reading?)"))
                    : Self.error(path, "read")
                break
            }
            initialized = done
        }
        if let failure { throw failure }
        return bytes
    }

    func write(_ bytes: [UInt8]) throws(SafeTensorsError) {
        var done = 0
        while done < bytes.count {
            let written = bytes.withUnsafeBytes { raw in
                systemWrite(descriptor, raw.baseAddress.map { $0 + done }, bytes.count - done)
            }
            if written > 0 { done += written; continue }
            if written < 0 && errno == EINTR { continue }
            throw Self.error(path, "write")
        }
    }

    func sync() throws(SafeTensorsError) {
        guard fsync(descriptor) == 0 else { throw Self.error(path, "fsync") }
    }

    func close() { _ = closeDescriptor() }

    /// On network filesystems a deferred write error can surface only at close.
    func closeReportingErrors() throws(SafeTensorsError) {
        guard closeDescriptor() == 0 else { throw Self.error(path, "close") }
    }

    private func closeDescriptor() -> Int32 { systemClose(descriptor) }

    /// Best effort: some filesystems refuse fsync on directories, and the file itself is
    /// already durable by then.
    static func syncDirectory(containing path: String) {
        let directory = (path as NSString).deletingLastPathComponent
        let descriptor = open(directory.isEmpty ? "." : directory, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return }
        _ = fsync(descriptor)
        _ = PosixFile(descriptor: descriptor, path: directory).closeDescriptor()
    }

    private init(descriptor: Int32, path: String) {
        self.descriptor = descriptor
        self.path = path
    }

    static func error(_ path: String, _ operation: String) -> SafeTensorsError {
        let code = errno
        return SafeTensorsError(source: path, problem: .io(operation: operation, detail: String(cString: strerror(code))))
    }
}

// `write` and `close` are shadowed by PosixFile's own methods, so name the C ones explicitly.
private func systemWrite(_ descriptor: Int32, _ buffer: UnsafeRawPointer?, _ count: Int) -> Int {
    #if canImport(Glibc)
    Glibc.write(descriptor, buffer, count)
    #elseif canImport(Musl)
    Musl.write(descriptor, buffer, count)
    #else
    Darwin.write(descriptor, buffer, count)
    #endif
}

private func systemClose(_ descriptor: Int32) -> Int32 {
    #if canImport(Glibc)
    Glibc.close(descriptor)
    #elseif canImport(Musl)
    Musl.close(descriptor)
    #else
    Darwin.close(descriptor)
    #endif
}
