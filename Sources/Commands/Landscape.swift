import ArgumentParser
import Foundation
import Landscapes

struct Landscape: ParsableCommand, BLASSettingsCommand {
    var blasCoretype: String { "Haswell" }

    static let configuration = CommandConfiguration(
        abstract: "Loss landscapes: --input (the paper's Figure 2, Engstrom et al.) or --weights (Li et al.'s "
            + "filter-normalised directions, adversarial loss); SVG, the raw grid as CSV, a flatness summary as JSON.")

    @Argument(help: "One or more run folders, drawn side by side on the same axes and colour scale.")
    var runs: [String]

    @Flag(help: "Which landscape: over input perturbations (sign ∇ₓ loss × a Rademacher direction) or over weights.")
    var kind: LandscapeKind

    @Option(help: "Test images, chosen by --seed (default: 8 for --input, 64 for --weights).")
    var images: Int?

    @Option(help: "Grid nodes per side of the 2-D map, odd (default: 21 for --input, 9 for --weights).")
    var points: Int?

    @Option(name: .customLong("curve-points"), help: "Nodes of the 1-D curve of --weights, odd.")
    var curvePoints = 21

    @Option(help: "Half-width of the grid (default: 2ε for --input; 1 filter-normalised unit for --weights).")
    var radius: Double?

    @Option(help: "Seed of the images and the random directions.")
    var seed: UInt64 = 0

    @Option(help: "Split the images come from (default: the recipe's eval.split).")
    var split: String?

    @Option(help: "Path of the outputs without extension (default: FIRST_RUN/landscape-input or -weights).")
    var output: String?

    func run() throws {
        guard !runs.isEmpty else {
            printError("error: name at least one run folder")
            throw ExitCode(1)
        }
        let defaults = kind == .input ? (8, 21) : (64, 9)
        let options = LandscapeOptions(images: images ?? defaults.0, points: points ?? defaults.1, curvePoints: curvePoints,
                                       radius: radius, seed: seed, split: split)
        guard options.images >= 1, options.points >= 3, options.curvePoints >= 3, (radius ?? 1) > 0 else {
            printError("error: --images must be ≥ 1, --points and --curve-points ≥ 3, --radius > 0")
            throw ExitCode(1)
        }
        let recipes = try runs.map { try checkedRunRecipe($0, inspectDataset: true) }
        let names = runs.map { URL(fileURLWithPath: $0).standardizedFileURL.lastPathComponent }
        let labels = Set(names).count == names.count ? names : runs
        if Set(recipes.map(\.data.name)).count > 1 {
            printError("warning: the runs were trained on different datasets: their landscapes are not comparable")
        }
        let progress = ProgressLine()
        var grids = [LandscapeGrid]()
        do {
            for (index, run) in runs.enumerated() {
                let checkpoint = try runCheckpoint(run)
                let report: (LandscapeProgress) -> Void = { progress.show("\(labels[index]): \($0.description)") }
                grids.append(kind == .input
                    ? try inputLandscape(recipe: recipes[index], checkpoint: checkpoint, run: labels[index], options: options, progress: report)
                    : try weightLandscape(recipe: recipes[index], checkpoint: checkpoint, run: labels[index], options: options, progress: report))
            }
            progress.finish()
            let base = URL(fileURLWithPath: output ?? runs[0] + "/landscape-" + kind.rawValue)
            for file in try writeLandscape(grids, kind: kind, options: options, to: base) { print("wrote \(file.path)") }
        } catch {
            progress.finish()
            printError("error: \(error)")
            throw ExitCode(1)
        }
    }

    /// The run's best checkpoint, else its last; none is an error.
    func runCheckpoint(_ run: String) throws -> String {
        for name in ["best.safetensors", "last.safetensors"] where FileManager.default.fileExists(atPath: run + "/" + name) {
            return run + "/" + name
        }
        throw LandscapeCommandError("\(run): no checkpoint (best.safetensors or last.safetensors): has an epoch finished?")
    }
}

struct LandscapeCommandError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

extension LandscapeKind: EnumerableFlag {}
