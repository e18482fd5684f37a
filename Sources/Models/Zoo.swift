import Graph

/// Why the zoo could not build a model. Each message names what was asked for and what
/// would have worked, so a recipe typo is fixed from the message alone.
public enum ModelError: Error, CustomStringConvertible, Equatable {
    case unknownModel(name: String, known: [String])
    case unknownOption(model: String, option: String, known: [String])
    case invalidOption(model: String, option: String, value: Int, reason: String)
    case invalidClassCount(model: String, classes: Int)
    case unsupportedInput(model: String, shape: [Int], reason: String)

    public var description: String {
        switch self {
        case .unknownModel(let name, let known):
            "unknown model '\(name)'; known models: \(known.joined(separator: ", "))"
        case .unknownOption(let model, let option, let known):
            "model '\(model)' has no option '\(option)'; "
                + (known.isEmpty ? "it takes no options" : "its options: \(known.joined(separator: ", "))")
        case .invalidOption(let model, let option, let value, let reason):
            "model '\(model)': option \(option) = \(value) is invalid: \(reason)"
        case .invalidClassCount(let model, let classes):
            "model '\(model)' needs at least one class, got \(classes)"
        case .unsupportedInput(let model, let shape, let reason):
            "model '\(model)' cannot take input shape \(shape): \(reason)"
        }
    }
}

/// The models a recipe can name, built from a name, integer options and the input shape.
public enum ModelZoo {
    /// One named model: its options with defaults, what input it can take, how to build it.
    struct Entry: Sendable {
        var name: String
        var defaults: [String: Int] = [:]
        /// Nil when an H×W input works, else what the model needs.
        var inputProblem: @Sendable (_ height: Int, _ width: Int) -> String? = { _, _ in nil }
        /// Nil when complete options (defaults filled in) make sense, else which one does not.
        var optionProblem: @Sendable (_ options: [String: Int]) -> ModelError? = { _ in nil }
        /// Builds from complete options that passed `optionProblem`.
        var build: @Sendable (_ options: [String: Int], _ classes: Int) -> any Model
    }

    static let entries: [Entry] = [
        Entry(name: "small-cnn", build: { _, classes in SmallCNN(classes: classes) }),
        Entry(name: "preact-resnet18", inputProblem: PreActResNet18.inputProblem,
              build: { _, classes in PreActResNet18(classes: classes) }),
        Entry(name: "wide-resnet", defaults: ["depth": 34, "width": 10], inputProblem: WideResNet.inputProblem,
              optionProblem: { options in
                  let (depth, width) = (options["depth"]!, options["width"]!)
                  if let reason = WideResNet.depthProblem(depth) {
                      return .invalidOption(model: "wide-resnet", option: "depth", value: depth, reason: reason)
                  }
                  if let reason = WideResNet.widthProblem(width) {
                      return .invalidOption(model: "wide-resnet", option: "width", value: width, reason: reason)
                  }
                  return nil
              },
              build: { options, classes in WideResNet(depth: options["depth"]!, widthFactor: options["width"]!, classes: classes) }),
        Entry(name: "vgg16", inputProblem: VGG16.inputProblem, build: { _, classes in VGG16(classes: classes) }),
        Entry(name: "mobilenet-v2", inputProblem: MobileNetV2.inputProblem,
              build: { _, classes in MobileNetV2(classes: classes) }),
        Entry(name: "mlp", defaults: ["hidden": 256],
              optionProblem: { options in
                  let hidden = options["hidden"]!
                  return hidden >= 1 ? nil
                      : .invalidOption(model: "mlp", option: "hidden", value: hidden, reason: "the hidden width must be at least 1")
              },
              build: { options, classes in MLP(classes: classes, hiddenWidth: options["hidden"]!) }),
        Entry(name: "lenet", inputProblem: LeNet.inputProblem, build: { _, classes in LeNet(classes: classes) }),
    ]

    public static let names: [String] = entries.map(\.name)

    /// The options `name` takes, with their defaults; nil for an unknown name.
    public static func defaultOptions(name: String) -> [String: Int]? {
        entries.first { $0.name == name }?.defaults
    }

    /// Builds model `name` for `classes` classes after checking that its options exist and
    /// make sense and that it can take `inputShape`: [C, H, W] or [N, C, H, W].
    public static func make(name: String, options: [String: Int], classes: Int, inputShape: [Int]) throws -> any Model {
        if let problem = optionProblem(name: name, options: options) { throw problem }
        let entry = entries.first { $0.name == name }!
        guard classes >= 1 else { throw ModelError.invalidClassCount(model: name, classes: classes) }
        guard (3...4).contains(inputShape.count), inputShape.allSatisfy({ $0 >= 1 }) else {
            throw ModelError.unsupportedInput(model: name, shape: inputShape,
                                              reason: "expected [C, H, W] or [N, C, H, W] with positive sizes")
        }
        let (height, width) = (inputShape[inputShape.count - 2], inputShape[inputShape.count - 1])
        if let reason = entry.inputProblem(height, width) {
            throw ModelError.unsupportedInput(model: name, shape: inputShape, reason: reason)
        }
        return entry.build(entry.defaults.merging(options) { _, chosen in chosen }, classes)
    }

    /// Nil when model `name` exists, takes every option in `options` and their values (over
    /// its defaults) make sense; else the first problem. What `make` checks before building,
    /// for recipe checks that run without a dataset.
    public static func optionProblem(name: String, options: [String: Int]) -> ModelError? {
        guard let entry = entries.first(where: { $0.name == name }) else {
            return .unknownModel(name: name, known: names)
        }
        for option in options.keys.sorted() where entry.defaults[option] == nil {
            return .unknownOption(model: name, option: option, known: entry.defaults.keys.sorted())
        }
        return entry.optionProblem(entry.defaults.merging(options) { _, chosen in chosen })
    }
}

/// Nil when an H×W input comes out of 3×3, padding-1 convolutions with these strides at
/// exactly `window`×`window`, else what the network needs. The reference networks pool
/// with a fixed window and flatten to a fixed width, so that pool must be global.
func finalMapProblem(height: Int, width: Int, strides: [Int], window: Int) -> String? {
    let reached = strides.reduce((height, width)) { size, stride in
        let conv = Conv2D(stride: stride, padding: 1)
        return (conv.outputSize(size.0, kernel: 3), conv.outputSize(size.1, kernel: 3))
    }
    if reached == (window, window) { return nil }
    let strided = strides.filter { $0 != 1 }.count
    return "needs an input that reaches \(window)×\(window) after \(strided) stride-2 stages (e.g. 32×32), "
        + "got \(height)×\(width), which reaches \(reached.0)×\(reached.1)"
}
