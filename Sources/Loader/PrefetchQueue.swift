import Foundation

/// A bounded single-producer, single-consumer queue fed by a background thread, so decoding
/// and augmentation overlap compute. The producer blocks when `capacity` items wait; the
/// consumer blocks when none do. All state is guarded by one NSCondition, which is why the
/// class can be shared across threads (@unchecked Sendable: the lock is the proof).
final class PrefetchQueue<Item: Sendable>: @unchecked Sendable {
    private let condition = NSCondition()
    private let capacity: Int
    private var items: [Item] = []
    private var finished = false
    private var cancelled = false

    init(capacity: Int) { self.capacity = max(1, capacity) }

    /// Runs `body` on a new thread; `body` calls `produce` per item, which returns false once
    /// the consumer has gone away (then `body` should return).
    func start(_ body: @escaping @Sendable (_ produce: (Item) -> Bool) -> Void) {
        let thread = Thread { [self] in
            body { item in self.push(item) }
            condition.lock()
            finished = true
            condition.broadcast()
            condition.unlock()
        }
        thread.name = "rat.loader.prefetch"
        thread.start()
    }

    private func push(_ item: Item) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while items.count >= capacity && !cancelled { condition.wait() }
        if cancelled { return false }
        items.append(item)
        condition.broadcast()
        return true
    }

    /// The next item, or nil when the producer has finished and the queue is drained.
    func pop() -> Item? {
        condition.lock()
        defer { condition.unlock() }
        while items.isEmpty && !finished { condition.wait() }
        if items.isEmpty { return nil }
        let item = items.removeFirst()
        condition.broadcast()
        return item
    }

    func cancel() {
        condition.lock()
        cancelled = true
        items.removeAll()
        condition.broadcast()
        condition.unlock()
    }
}
