import Attacks
import Graph
import Models
import Objectives
import Recipe

/// The uncompiled graphs of a recipe's training step, for `StepProgram` to compile and for
/// `rat plan` to inspect:
///   training  the loss at w with tangent u (terms, total, ∂total/∂w, BN statistics)
///   attack    one projected ascent step on the training objective (w or w + u fed)
///   target    clean logits, the KL attack's fixed target
///   proxy     AWP's proxy loss: the recipe's zeroth-order terms and their gradient
public struct StepGraphs {
    public var training: TrainingGraph
    public var attack: Graph?
    public var target: Graph?
    public var proxy: TrainingGraph?
    /// Parameters that get noise (empty when the recipe has none).
    public var noisy: [ParameterInfo]

    /// `batchNormRanks` > 1: `inputShape` is one rank's share of a batch split over that many
    /// data-parallel ranks, and every train-mode BatchNorm (loss passes, a train-mode attack,
    /// AWP's proxy) normalises by the whole batch's statistics (`distributed.sync_bn`).
    public init(recipe: Recipe, model: any Model, inputShape: [Int], classes: Int, batchNormRanks: Int = 1) throws {
        let terms = recipe.loss.evaluatedTerms
        let selected: (String) -> Bool = { name in recipe.noise.params.contains { globMatches($0, name) } }
        let normalization = NormalizationMode.train(synchronizedOver: batchNormRanks)
        training = buildTrainingGraph(model: model, inputShape: inputShape, classes: classes, terms: terms,
                                      noiseParameters: selected, normalization: normalization)
        if !training.noiseParameters.isEmpty && !recipe.noise.isActive {
            throw TrainingError("\(recipe.locations.location(of: "noise")): the loss uses Taylor views J(·)/H(·) "
                                + "or noisy(·), which need weight noise, but noise is disabled (noise.enabled/sigma)")
        }
        noisy = recipe.noise.isActive ? training.parameters.filter { selected($0.name) } : []
        if terms.contains(where: { $0.allViews.contains { $0.input == .adversarial } }) {
            let attack = trainingAttack(recipe)
            let mode = trainingAttackMode(recipe, batchNormRanks: batchNormRanks)
            self.attack = buildProjectedStepGraph(model: model, inputShape: inputShape, classes: classes,
                                                  loss: attack.loss, threat: attack.threat, mode: mode)
            target = attack.loss == .kl ? model.forwardGraph(inputShape: inputShape, mode: mode).graph : nil
        }
        if recipe.awp.enabled {
            // AWP ascends the plain adversarial objective: the zeroth-order terms (CE + β·KL
            // for TRADES-style losses, CE on s' for Madry), as the AWP reference code does;
            // terms on the randomized model f_{w+u} are not among them.
            let zeroth = terms.filter { $0.allViews.allSatisfy { $0.order == 0 && !$0.noisy } }
            guard !zeroth.isEmpty else {
                throw TrainingError("\(recipe.locations.location(of: "awp")): AWP needs a zeroth-order loss term "
                                    + "(on clean or adversarial logits) to build its weight perturbation")
            }
            proxy = buildTrainingGraph(model: model, inputShape: inputShape, classes: classes, terms: zeroth,
                                       noiseParameters: { _ in false }, normalization: normalization)
        }
    }
}
