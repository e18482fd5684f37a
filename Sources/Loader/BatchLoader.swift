import Foundation
import Shards

/// One batch, ready for the executor.
public struct Batch: Sendable {
    public var images: [Float]        // [count][C][H][W], values in [0, 1]
    public var labels: [Int32]        // [count]
    public var sampleIndices: [Int]   // [count] positions in the split, for audits and debugging
    public var count: Int
    public var channels: Int
    public var height: Int
    public var width: Int
    public var epoch: Int
    public var index: Int             // batch number within the epoch
}

/// Deterministic batching: the order of epoch e is a keyed permutation of (seed, e), and each
/// sample's augmentation is keyed by (seed, e, sample index). Any batch can be rebuilt alone
/// (`batch(epoch:index:)`), so a run resumed mid-epoch sees exactly the batches it would have.
public final class BatchLoader: Sendable {
    public let split: SplitData
    public let batchSize: Int
    public let seed: UInt64
    public let augmentation: Augmentation
    public let dropLast: Bool
    public let prefetch: Bool
    /// Batches built ahead of the consumer when prefetching.
    public let prefetchDepth: Int

    public init(split: SplitData, batchSize: Int, seed: UInt64, augmentation: Augmentation = .none,
                dropLast: Bool = false, prefetch: Bool = true, prefetchDepth: Int = 3) {
        self.split = split
        self.batchSize = max(1, batchSize)
        self.seed = seed
        self.augmentation = augmentation
        self.dropLast = dropLast
        self.prefetch = prefetch
        self.prefetchDepth = max(1, prefetchDepth)
    }

    public var batchesPerEpoch: Int {
        dropLast ? split.count / batchSize : (split.count + batchSize - 1) / batchSize
    }

    /// The sample order of an epoch: a permutation of 0..<count keyed by (seed, epoch).
    public func order(epoch: Int) -> [Int] {
        KeyedRandom.permutation(count: split.count, keys: seed, KeyedRandom.Stream.shuffle.rawValue, UInt64(bitPattern: Int64(epoch)))
    }

    /// Builds batch `index` of `epoch` from scratch.
    public func batch(epoch: Int, index: Int) -> Batch {
        batch(epoch: epoch, index: index, order: order(epoch: epoch))
    }

    /// Builds batch `index` given the epoch's order (computed once per epoch by the iterator).
    public func batch(epoch: Int, index: Int, order: [Int]) -> Batch {
        let start = min(order.count, index * batchSize)
        let indices = Array(order[start..<min(order.count, start + batchSize)])
        let size = split.pixelsPerImage
        var images = [Float](repeating: 0, count: indices.count * size)  // [n][C][H][W]
        var labels = [Int32](repeating: 0, count: indices.count)         // [n]
        split.pixels.withUnsafeBufferPointer { pixels in
            images.withUnsafeMutableBufferPointer { output in
                for (slot, sample) in indices.enumerated() {
                    labels[slot] = split.labels[sample]
                    let choice = augmentation.choice(seed: seed, epoch: epoch, sample: sample)
                    Augmentation.render(UnsafeBufferPointer(rebasing: pixels[(sample * size)..<((sample + 1) * size)]),
                                        into: UnsafeMutableBufferPointer(rebasing: output[(slot * size)..<((slot + 1) * size)]),
                                        channels: split.channels, height: split.height, width: split.width, choice: choice)
                }
            }
        }
        return Batch(images: images, labels: labels, sampleIndices: indices, count: indices.count, channels: split.channels,
                     height: split.height, width: split.width, epoch: epoch, index: index)
    }

    /// The batches of `epoch` from `batchIndex` on. With `prefetch`, a background thread builds
    /// up to `prefetchDepth` batches ahead; the contents are the same either way.
    public func batches(epoch: Int, startingAt batchIndex: Int = 0) -> BatchSequence {
        BatchSequence(loader: self, epoch: epoch, range: max(0, batchIndex)..<batchesPerEpoch)
    }
}

public struct BatchSequence: Sequence, Sendable {
    public let loader: BatchLoader
    public let epoch: Int
    public let range: Range<Int>

    public func makeIterator() -> BatchIterator {
        BatchIterator(loader: loader, epoch: epoch, range: range)
    }
}

/// Iterates one epoch's batches; stops its prefetch thread when finished or discarded.
public final class BatchIterator: IteratorProtocol {
    private let loader: BatchLoader
    private let epoch: Int
    private let range: Range<Int>
    private var next_: Int
    private var order: [Int]?
    private var queue: PrefetchQueue<Batch>?

    init(loader: BatchLoader, epoch: Int, range: Range<Int>) {
        self.loader = loader
        self.epoch = epoch
        self.range = range
        self.next_ = range.lowerBound
    }

    deinit { queue?.cancel() }

    public func next() -> Batch? {
        guard range.lowerBound < range.upperBound else { return nil }
        if loader.prefetch {
            if queue == nil {
                let queue = PrefetchQueue<Batch>(capacity: loader.prefetchDepth)
                let (loader, epoch, range) = (self.loader, self.epoch, self.range)
                queue.start {produce in
                    let order = loader.order(epoch: epoch)
                    for index in range where produce(loader.batch(epoch: epoch, index: index, order: order)) == false { return }
                }
                self.queue = queue
            }
            return queue?.pop()
        }
        guard next_ < range.upperBound else { return nil }
        if order == nil { order = loader.order(epoch: epoch) }
        defer { next_ += 1 }
        return loader.batch(epoch: epoch, index: next_, order: order ?? [])
    }
}
