import Loader
import Recipe

/// What a compiled step needs to know about the data: image shape and class count.
public struct DataGeometry: Sendable {
    public var channels: Int
    public var height: Int
    public var width: Int
    public var classes: Int
    /// Where the numbers came from, for messages ("the dataset at …" or "the standard …").
    public var source: String

    /// The published geometry of the datasets rat converts, for planning a recipe whose
    /// data has not been prepared on this machine.
    static let standard: [String: (Int, Int, Int, Int)] = [
        "cifar10": (3, 32, 32, 10), "cifar100": (3, 32, 32, 100), "svhn": (3, 32, 32, 10),
        "mnist": (1, 28, 28, 10), "fashion-mnist": (1, 28, 28, 10),
    ]

    /// From the prepared dataset when it exists; otherwise, if `allowStandard`, from the
    /// standard geometry of the dataset the recipe names.
    public static func of(_ recipe: Recipe, allowStandard: Bool) throws -> DataGeometry {
        if let dataset = try? Dataset.open(recipe.data.path) {
            return DataGeometry(channels: dataset.channels, height: dataset.height, width: dataset.width,
                                classes: dataset.classCount, source: "the dataset at '\(recipe.data.path)'")
        }
        let name = recipe.data.name.lowercased()
        if allowStandard, let (c, h, w, k) = standard[name] ?? standard[name.replacingOccurrences(of: "-small", with: "")] {
            return DataGeometry(channels: c, height: h, width: w, classes: k,
                                source: "standard \(name) geometry (no prepared data at '\(recipe.data.path)')")
        }
        _ = try Dataset.open(recipe.data.path)  // rethrows the real reason
        throw TrainingError("no dataset at '\(recipe.data.path)'")
    }
}
