import Shards

/// One split decoded from a published source layout, before it is written as shards.
public struct SourceSplit: Sendable {
    public var labels: [Int]      // [N], each in 0..<classCount
    public var pixels: [UInt8]    // [N][C][H][W]
    public init(labels: [Int] = [], pixels: [UInt8] = []) {
        self.labels = labels
        self.pixels = pixels
    }
    public var count: Int { labels.count }
}

/// A dataset decoded from its published layout: the common input of `prepare`.
public struct SourceDataset: Sendable {
    public var name: String
    public var channels: Int
    public var height: Int
    public var width: Int
    public var classNames: [String]
    /// Split name → records, in the order they appear in the source files.
    public var splits: [String: SourceSplit]
    public init(name: String, channels: Int, height: Int, width: Int, classNames: [String], splits: [String: SourceSplit]) {
        self.name = name
        self.channels = channels
        self.height = height
        self.width = width
        self.classNames = classNames
        self.splits = splits
    }
    public var pixelsPerRecord: Int { channels * height * width }
}

/// The published layouts `rat data prepare --format` accepts.
public enum SourceFormat: String, CaseIterable, Sendable {
    case cifar10
    case cifar100
    case svhn
    case mnist
    case fashionMNIST = "fashion-mnist"

    /// Decodes every split found under `path` (a folder of the published files).
    public func load(_ path: String) throws -> SourceDataset {
        switch self {
        case .cifar10: return try CIFAR.load(folder: path, variant: .cifar10)
        case .cifar100: return try CIFAR.load(folder: path, variant: .cifar100)
        case .svhn: return try SVHN.load(folder: path)
        case .mnist: return try IDX.loadDataset(folder: path, name: "mnist", classNames: ClassNames.digits)
        case .fashionMNIST: return try IDX.loadDataset(folder: path, name: "fashion-mnist", classNames: ClassNames.fashionMNIST)
        }
    }

    /// Horizontal flips change the meaning of digits and text; recipes should leave them off.
    public var isDigitData: Bool { self == .svhn || self == .mnist }
}

/// Class names of the published datasets, in label order.
public enum ClassNames {
    public static let digits = (0...9).map(String.init)
    public static let fashionMNIST = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                      "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
    public static let cifar10 = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    /// CIFAR-100 fine labels (the order of `fine_label_names` in the published meta file).
    public static let cifar100 = [
        "apple", "aquarium_fish", "baby", "bear", "beaver", "bed", "bee", "beetle", "bicycle", "bottle",
        "bowl", "boy", "bridge", "bus", "butterfly", "camel", "can", "castle", "caterpillar", "cattle",
        "chair", "chimpanzee", "clock", "cloud", "cockroach", "couch", "crab", "crocodile", "cup", "dinosaur",
        "dolphin", "elephant", "flatfish", "forest", "fox", "girl", "hamster", "house", "kangaroo", "keyboard",
        "lamp", "lawn_mower", "leopard", "lion", "lizard", "lobster", "man", "maple_tree", "motorcycle", "mountain",
        "mouse", "mushroom", "oak_tree", "orange", "orchid", "otter", "palm_tree", "pear", "pickup_truck", "pine_tree",
        "plain", "plate", "poppy", "porcupine", "possum", "rabbit", "raccoon", "ray", "road", "rocket",
        "rose", "sea", "seal", "shark", "shrew", "skunk", "skyscraper", "snail", "snake", "spider",
        "squirrel", "streetcar", "sunflower", "sweet_pepper", "table", "tank", "telephone", "television", "tiger", "tractor",
        "train", "trout", "tulip", "turtle", "wardrobe", "whale", "willow_tree", "wolf", "woman", "worm",
    ]
}
