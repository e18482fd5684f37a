import Foundation

/// An exclusive lock on a run folder: `<run>/.lock`, held with `flock(2)` for as long as
/// this value lives, holding the pid of its owner. Two trainers never write one folder at
/// once; a process killed with -9 loses its lock with its descriptor, so a stale file never
/// blocks (the file itself stays: removing it would race with a second taker).
public final class RunLock {
    public let path: String
    private var descriptor: Int32

    /// Takes the lock or throws naming the process that holds it.
    public init(folder: String) throws {
        path = folder + "/.lock"
        descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw TrainingError("cannot create the lock file '\(path)': \(String(cString: strerror(errno)))")
        }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            let reason = errno
            let owner = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
            close(descriptor)
            descriptor = -1
            if reason == EWOULDBLOCK {
                throw TrainingError("'\(folder)' is in use by another training run (pid \(owner.flatMap { $0.isEmpty ? nil : $0 } ?? "unknown")): "
                                    + "wait for it to finish or stop it, or set another output")
            }
            throw TrainingError("cannot lock '\(path)': \(String(cString: strerror(reason)))")
        }
        let pid = Array("\(getpid())\n".utf8)
        _ = ftruncate(descriptor, 0)
        _ = pid.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, 0) }
    }

    /// Releases the lock now (it is also released when this value goes away or the process ends).
    public func release() {
        guard descriptor >= 0 else { return }
        _ = ftruncate(descriptor, 0)
        flock(descriptor, LOCK_UN)
        close(descriptor)
        descriptor = -1
    }

    deinit { release() }
}
