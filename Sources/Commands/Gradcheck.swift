import ArgumentParser
import Foundation
import Models
import Objectives
import Recipe
import Training

struct Gradcheck: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check the compiled gradient of each loss term against central finite differences (Double).",
        discussion: """
            Without a recipe: a small built-in CNN (conv → train-mode BN → ReLU, twice, the second \
            strided; global average pool; linear) and the paper's four terms. With a recipe: its model \
            on its data geometry and its own loss terms, at a small batch (slow for large models: the \
            reference backend is naive Double).
            """)

    @Argument(help: "A recipe (optional).")
    var recipe: String?

    @OptionGroup var overrides: RecipeOverrides

    @Option(help: "Batch size for a recipe's check.")
    var batch = 2

    @Option(help: "Relative error above which the check fails.")
    var tolerance: Double = 1e-6

    @Option(help: "Random directions.")
    var directions: Int = 3

    @Option(help: "Seed for weights, data, noise and directions.")
    var seed: UInt64 = 1

    func run() throws {
        let model: any Model
        let inputShape: [Int]
        let classes: Int
        let terms: [Objectives::LossTerm]
        var noisy: (String) -> Bool = { _ in true }
        if let path = recipe {
            let recipe = try overrides.load(path, inspectDataset: false)
            do {
                let data = try DataGeometry.of(recipe, allowStandard: true)
                model = try makeModel(recipe, channels: data.channels, height: data.height, width: data.width, classes: data.classes)
                (inputShape, classes) = ([batch, data.channels, data.height, data.width], data.classes)
                terms = recipe.loss.evaluatedTerms
                noisy = { name in recipe.noise.params.contains { globMatches($0, name) } }
            } catch {
                printError("error: \(error)")
                throw ExitCode(1)
            }
            print("gradient check: \(path) (\(recipe.model.name), \(inputShape), \(classes) classes), Double, h = 1e-7")
        } else {
            model = SmallCNN(classes: 5, widths: [6, 8])
            (inputShape, classes) = ([4, 3, 8, 8], 5)
            terms = [
                Objectives::LossTerm(name: "cross-entropy", criterion: .crossEntropy, views: [Objectives::View(.clean)], weight: 1),
                Objectives::LossTerm(name: "trades-kl", criterion: .kl, views: [Objectives::View(.clean), Objectives::View(.adversarial)], weight: 1),
                Objectives::LossTerm(name: "taylor1-kl", criterion: .kl, views: [Objectives::View(.clean, order: 1), Objectives::View(.adversarial, order: 1)], weight: 1),
                Objectives::LossTerm(name: "taylor2-kl", criterion: .kl, views: [Objectives::View(.clean, order: 2), Objectives::View(.adversarial, order: 2)], weight: 1),
            ]
            print("gradient check: small CNN \(inputShape) → \(classes) classes, train-mode BatchNorm, Double, h = 1e-7")
        }
        let results = try checkGradients(model: model, inputShape: inputShape, classes: classes, terms: terms,
                                         noiseParameters: noisy, directions: directions, seed: seed)
        let width = max(16, (results.map(\.term.count).max() ?? 0) + 2)
        print("term".padding(toLength: width, withPad: " ", startingAt: 0) + "max relative error")
        var failed = false
        for r in results {
            let ok = r.maxRelativeError <= tolerance   // NaN (no usable direction) fails
            failed = failed || !ok
            print(r.term.padding(toLength: width, withPad: " ", startingAt: 0)
                  + String(format: "%.3e", r.maxRelativeError) + (ok ? "" : "  FAIL") + "  (\(r.directions) directions)")
        }
        print("tolerance \(tolerance): " + (failed ? "FAILED" : "passed"))
        if failed { throw ExitCode(1) }
    }
}
