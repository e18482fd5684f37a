/// What is trained on: a dataset folder of shards (see the Shards module) and how it is split and augmented.
public struct DataSpec: Equatable, Sendable {
    /// A short name for logs and run folders; defaults to the folder's last component.
    public var name: String
    /// The dataset folder, relative to the working directory; `check` looks for its `manifest.json`.
    public var path: String
    /// Which stored splits serve as the training pool and the test set.
    public var splits: Splits
    /// Images carved out of the training pool (the last `val` of it) to select checkpoints on,
    /// so that the test set is touched only for the final report. 0 = no validation split.
    public var val: Int
    public var augment: Augmentation
    /// Drop the last incomplete batch each epoch, as the reference TRADES/AWP loaders do.
    public var dropLast: Bool

    public struct Splits: Equatable, Sendable {
        public var train: String = "train"
        public var test: String = "test"
        public init() {}
    }

    /// The CIFAR recipe of the paper: random crop with zero padding 4, then horizontal flip.
    public struct Augmentation: Equatable, Sendable {
        /// 0 turns the random crop off.
        public var cropPadding: Int = 4
        public var horizontalFlip: Bool = true
        public init() {}
    }

    public init(path: String = "data/cifar10") {
        self.path = path
        self.name = DataSpec.defaultName(for: path)
        self.splits = Splits()
        self.val = 1000
        self.augment = Augmentation()
        self.dropLast = true
    }

    static func defaultName(for path: String) -> String {
        String(path.split(separator: "/").last ?? Substring(path))
    }

    static let keys = ["name", "path", "splits", "val", "augment", "drop_last"]

    init(from node: YAMLNode) throws {
        let reader = try MappingReader(node, path: "data", known: DataSpec.keys)
        self.init(path: try reader.string("path", default: "data/cifar10"))
        name = try reader.string("name", default: DataSpec.defaultName(for: path))
        if let splitsNode = reader.child("splits") {
            let splitsReader = try MappingReader(splitsNode, path: "data.splits", known: ["train", "test"])
            splits.train = try splitsReader.string("train", default: splits.train)
            splits.test = try splitsReader.string("test", default: splits.test)
        }
        val = try reader.int("val", default: val)
        if let augmentNode = reader.child("augment") {
            let augmentReader = try MappingReader(augmentNode, path: "data.augment", known: ["crop_padding", "horizontal_flip"])
            augment.cropPadding = try augmentReader.int("crop_padding", default: augment.cropPadding)
            augment.horizontalFlip = try augmentReader.bool("horizontal_flip", default: augment.horizontalFlip)
        }
        dropLast = try reader.bool("drop_last", default: dropLast)
    }
}

/// The architectures the Models module builds (docs/method.md §3).
public enum ModelName: String, CaseIterable, Sendable {
    case smallCNN = "small-cnn"
    case preactResNet18 = "preact-resnet18"
    case wideResNet = "wide-resnet"
    case vgg16 = "vgg16"
    case mobileNetV2 = "mobilenet-v2"
    case mlp = "mlp"
    case lenet = "lenet"

    /// Models with a depth/width knob, and their defaults: WRN-34-10 as in the paper's
    /// Table 2; an MLP of 2 hidden layers of 256.
    var sizeDefaults: (depth: Int, width: Int)? {
        switch self {
        case .wideResNet: return (34, 10)
        case .mlp: return (2, 256)
        default: return nil
        }
    }
}

public struct ModelSpec: Equatable, Sendable {
    public var name: ModelName
    /// Output classes; nil = the dataset's `classes` from its manifest.
    public var classes: Int?
    /// WideResNet: depth (6n+4) and widen factor. MLP: hidden layers and their width. nil for the others.
    public var depth: Int?
    public var width: Int?

    public init(name: ModelName = .preactResNet18, classes: Int? = nil) {
        self.name = name
        self.classes = classes
        self.depth = name.sizeDefaults?.depth
        self.width = name.sizeDefaults?.width
    }

    static let keys = ["name", "classes", "depth", "width"]

    init(from node: YAMLNode) throws {
        let reader = try MappingReader(node, path: "model", known: ModelSpec.keys)
        self.init(name: try reader.choice("name", default: ModelName.preactResNet18),
                  classes: try reader.optionalInt("classes"))
        for key in ["depth", "width"] where reader.has(key) && name.sizeDefaults == nil {
            throw RecipeError("'model.\(key)' applies only to wide-resnet and mlp, not \(name.rawValue)",
                              at: reader.child(key)!.location)
        }
        if let defaults = name.sizeDefaults {
            depth = try reader.int("depth", default: defaults.depth)
            width = try reader.int("width", default: defaults.width)
        }
    }
}
