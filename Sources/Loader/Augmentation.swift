import Shards

/// The augmentations a recipe can ask for. Each sample's random choices are a pure function
/// of (seed, epoch, sample index), so they are identical with or without prefetch and after
/// a resume.
public struct Augmentation: Sendable, Equatable {
    /// Random crop of the image padded by this many zero pixels on every side (0 = off);
    /// the crop keeps the original size, i.e. a shift by −p…p in each direction.
    public var cropPadding: Int
    /// Mirror left–right with probability 1/2. Off by default: it changes digits' meaning.
    public var horizontalFlip: Bool

    public init(cropPadding: Int = 0, horizontalFlip: Bool = false) {
        self.cropPadding = max(0, cropPadding)
        self.horizontalFlip = horizontalFlip
    }

    public static let none = Augmentation()
    /// The usual CIFAR recipe: pad 4, random crop, random flip.
    public static let cifar = Augmentation(cropPadding: 4, horizontalFlip: true)

    public var isIdentity: Bool { cropPadding == 0 && !horizontalFlip }

    /// The choices for one sample: shifts in −p…p and whether to flip.
    public struct Choice: Sendable, Equatable {
        public var shiftY: Int
        public var shiftX: Int
        public var flip: Bool
    }

    public func choice(seed: UInt64, epoch: Int, sample: Int) -> Choice {
        if isIdentity { return Choice(shiftY: 0, shiftX: 0, flip: false) }
        let random = KeyedRandom.hash(seed, KeyedRandom.Stream.augment.rawValue, UInt64(bitPattern: Int64(epoch)), UInt64(sample))
        let span = 2 * cropPadding + 1
        // Independent fields of one 64-bit hash: 24 bits each for the shifts, 1 bit for the flip.
        let shiftY = KeyedRandom.below(span, (random & 0xFF_FFFF) << 40) - cropPadding
        let shiftX = KeyedRandom.below(span, ((random >> 24) & 0xFF_FFFF) << 40) - cropPadding
        let flip = horizontalFlip && (random >> 63) == 1
        return Choice(shiftY: shiftY, shiftX: shiftX, flip: flip)
    }

    /// Float(v) / 255 for every byte value v.
    static let unitScale: [Float] = (0..<256).map { Float($0) / 255 }

    /// Writes one augmented image as Float in [0, 1]:
    /// out[c][y][x] = in[c][y + shiftY][x' + shiftX] / 255 with x' = flip ? W−1−x : x,
    /// and 0 where that source pixel lies in the zero padding.
    public static func render(_ source: UnsafeBufferPointer<UInt8>,   // [C][H][W] uint8
                              into output: UnsafeMutableBufferPointer<Float>,  // [C][H][W] float
                              channels: Int, height: Int, width: Int, choice: Choice) {
        // v / 255 exactly (correctly rounded, as torchvision's ToTensor), via a 256-entry table.
        let scale = unitScale
        if choice.shiftX == 0 && choice.shiftY == 0 && !choice.flip {
            for i in 0..<(channels * height * width) { output[i] = scale[Int(source[i])] }
            return
        }
        for c in 0..<channels {
            let plane = c * height * width
            for y in 0..<height {
                let sourceY = y + choice.shiftY
                let row = plane + y * width
                guard sourceY >= 0 && sourceY < height else {
                    for x in 0..<width { output[row + x] = 0 }
                    continue
                }
                let sourceRow = plane + sourceY * width
                for x in 0..<width {
                    let sourceX = (choice.flip ? width - 1 - x : x) + choice.shiftX
                    output[row + x] = sourceX >= 0 && sourceX < width ? scale[Int(source[sourceRow + sourceX])] : 0
                }
            }
        }
    }
}
