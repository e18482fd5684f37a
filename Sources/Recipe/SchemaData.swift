import Models

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

/// Which model of the zoo (Sources/Models/Zoo.swift) to train, with the zoo's own options:
/// the names, option keys and defaults a recipe accepts are the ones `ModelZoo` declares.
public struct ModelSpec: Equatable, Sendable {
    /// One of `ModelZoo.names`.
    public var name: String
    /// Output classes; nil = the dataset's `classes` from its manifest.
    public var classes: Int?
    /// Every option the model takes (`ModelZoo.defaultOptions(name:)`: wide-resnet's depth and
    /// width, mlp's hidden), the zoo's defaults overlaid with the recipe's values.
    public var options: [String: Int]

    public init(name: String = "preact-resnet18", classes: Int? = nil) {
        precondition(ModelZoo.names.contains(name), "unknown model '\(name)'; known models: \(ModelZoo.names)")
        self.name = name
        self.classes = classes
        self.options = ModelZoo.defaultOptions(name: name) ?? [:]
    }

    init(from node: YAMLNode) throws {
        // The model's option keys are known only once its name is: read the name first.
        let nameNode = node.entries?.first { $0.key == "name" }?.value
        let name = try nameNode.map { try ModelSpec.readName($0) } ?? "preact-resnet18"
        let optionKeys = (ModelZoo.defaultOptions(name: name) ?? [:]).keys.sorted()
        let known = ["name", "classes"] + optionKeys
        for entry in node.entries ?? [] where !known.contains(entry.key) {
            throw RecipeError(ModelError.unknownOption(model: name, option: entry.key, known: optionKeys).description
                              + (nearest(to: entry.key, among: known).map { " — did you mean '\($0)'?" } ?? ""),
                              at: entry.keyLocation)
        }
        let reader = try MappingReader(node, path: "model", known: known)
        self.init(name: name, classes: try reader.optionalInt("classes"))
        for key in optionKeys { options[key] = try reader.int(key, default: options[key]!) }
    }

    private static func readName(_ node: YAMLNode) throws -> String {
        let text = try scalarText(node, path: "model.name", expected: "a word")
        guard ModelZoo.names.contains(text) else {
            throw RecipeError("unknown value '\(text)' for 'model.name'\(didYouMean(text, among: ModelZoo.names))",
                              at: node.location)
        }
        return text
    }
}
