import ArgumentParser
import Foundation
import Graph
import Planner
import Recipe
import Training

/// `rat plan <recipe>`: compiles the recipe's step graphs and reports what the planner made
/// of them, without running anything.
struct PlanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Compile a recipe's training and evaluation graphs and print parameters, loss terms, node counts, FLOPs and memory.")

    @Argument(help: "The recipe file (YAML).")
    var recipe: String

    @OptionGroup var overrides: RecipeOverrides

    func run() throws {
        let recipe = try overrides.load(recipe, inspectDataset: false)
        do { try report(recipe) } catch {
            printError("error: \(error)")
            throw ExitCode(1)
        }
    }

    private func report(_ recipe: Recipe) throws {
        let data = try DataGeometry.of(recipe, allowStandard: true)
        let model = try makeModel(recipe, channels: data.channels, height: data.height, width: data.width, classes: data.classes)
        let shape = [recipe.schedule.batch, data.channels, data.height, data.width]
        let graphs = try StepGraphs(recipe: recipe, model: model, inputShape: shape, classes: data.classes)
        let parameters = graphs.training.parameters.reduce(0) { $0 + $1.count }

        print("recipe \(recipe.name): \(recipe.model.name) on \(shape.map(String.init).joined(separator: "×")), "
              + "\(data.classes) classes (\(data.source))")
        print("parameters: \(grouped(parameters)) in \(graphs.training.parameters.count) tensors"
              + (graphs.noisy.isEmpty ? "" : "; noise σ = \(recipe.noise.sigma) on \(graphs.noisy.count) of them"))
        print("loss:")
        for term in graphs.training.terms {
            print("  \(String(format: "%10.6g", term.weight)) × \(term.name): \(term.criterion.name) on "
                  + term.views.map(\.description).joined(separator: ", ")
                  + (term.exampleWeight.map { ", per example × \($0)" } ?? ""))
        }

        var stages: [(name: String, graph: Graph, runs: Int)] = [("loss + gradients", graphs.training.graph, 1)]
        if let attack = graphs.attack { stages.append(("attack step", attack, recipe.threat.steps)) }
        if let target = graphs.target { stages.append(("attack target", target, 1)) }
        if let proxy = graphs.proxy { stages.append(("AWP proxy", proxy.graph, 1)) }
        print("\nstage                runs   GFLOP/step   arena MB   nodes before → after")
        var total = 0
        var arena = 0
        var plans = [(String, Plan)]()
        for stage in stages {
            let p = plan(stage.graph)
            plans.append((stage.name, p))
            total += p.flops * stage.runs
            arena += p.arenaBytes
            print(stage.name.padding(toLength: 20, withPad: " ", startingAt: 0)
                  + String(format: " %4d %12.2f %10.1f", stage.runs, Double(p.flops * stage.runs) * 1e-9, Double(p.arenaBytes) / 1_048_576)
                  + "   \(p.countsBefore.values.reduce(0, +)) → \(p.countsAfter.values.reduce(0, +))")
        }
        print(String(format: "per step: %.2f GFLOP, %.1f MB of planned arenas", Double(total) * 1e-9, Double(arena) / 1_048_576))

        print("\nnodes by primitive (before → after planning):")
        for (name, p) in plans {
            let kinds = Set(p.countsBefore.keys).union(p.countsAfter.keys).sorted { $0.rawValue < $1.rawValue }
            print("  \(name): " + kinds.map { "\($0.rawValue) \(p.countsBefore[$0] ?? 0)→\(p.countsAfter[$0] ?? 0)" }.joined(separator: ", "))
        }
    }

    private func grouped(_ n: Int) -> String {
        let digits = Array(String(n))
        return stride(from: 0, to: digits.count, by: 3).map { i -> String in
            let end = digits.count - i
            return String(digits[max(0, end - 3)..<end])
        }.reversed().joined(separator: ",")
    }
}
