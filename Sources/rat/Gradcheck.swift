import ArgumentParser
import Foundation
import Models
import Objectives

struct Gradcheck: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check the compiled gradient of each loss term against central finite differences (Double).")

    @Option(help: "Relative error above which the check fails.")
    var tolerance: Double = 1e-6

    @Option(help: "Random directions per term.")
    var directions: Int = 3

    @Option(help: "Seed for weights, data, noise and directions.")
    var seed: UInt64 = 1

    func run() throws {
        // conv → train-mode BN → ReLU, twice (the second strided), global average pool, linear.
        let model = SmallCNN(classes: 5, widths: [6, 8])
        let inputShape = [4, 3, 8, 8]
        let terms = [
            LossTerm(name: "cross-entropy", criterion: .crossEntropy, views: [View(.clean)], weight: 1),
            LossTerm(name: "trades-kl", criterion: .kl, views: [View(.clean), View(.adversarial)], weight: 1),
            LossTerm(name: "taylor1-kl", criterion: .kl, views: [View(.clean, order: 1), View(.adversarial, order: 1)], weight: 1),
            LossTerm(name: "taylor2-kl", criterion: .kl, views: [View(.clean, order: 2), View(.adversarial, order: 2)], weight: 1),
        ]
        print("gradient check: small CNN \(inputShape) → 5 classes, train-mode BatchNorm, Double, h = 1e-7")
        let results = try checkGradients(model: model, inputShape: inputShape, classes: 5, terms: terms,
                                         directions: directions, seed: seed)
        print("term".padding(toLength: 16, withPad: " ", startingAt: 0) + "max relative error")
        var failed = false
        for r in results {
            let ok = r.maxRelativeError <= tolerance
            failed = failed || !ok
            print(r.term.padding(toLength: 16, withPad: " ", startingAt: 0)
                  + String(format: "%.3e", r.maxRelativeError) + (ok ? "" : "  FAIL") + "  (\(r.directions) directions)")
        }
        print("tolerance \(tolerance): " + (failed ? "FAILED" : "passed"))
        if failed { throw ExitCode(1) }
    }
}
