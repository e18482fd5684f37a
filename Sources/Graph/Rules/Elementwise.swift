import Foundation

// Elementwise primitives. `map`/`zip` are DTensor helpers (Reference/DTensor.swift).

let inputRule = Rule(
    reference: { _, node in preconditionFailure("input \(node.op) is fed, not computed") },
    jvp: { _ in nil }, vjp: { _ in [] })

func constantRule(_ value: Double) -> Rule {
    zeroDerivativeRule { _, node in DTensor(repeating: value, shape: node.shape) }
}

let negRule = Rule(
    reference: { x, _ in x[0].map { -$0 } },
    jvp: { d in d.tangents[0].map { -$0 } },
    vjp: { d in [-d.cotangent] })

let expRule = Rule(
    reference: { x, _ in x[0].map(Foundation.exp) },
    jvp: { d in d.tangents[0].map { $0 * d.output } },
    vjp: { d in [d.cotangent * d.output] })

let logRule = Rule(
    reference: { x, _ in x[0].map(Foundation.log) },
    jvp: { d in d.tangents[0].map { $0 / d.operands[0] } },
    vjp: { d in [d.cotangent / d.operands[0]] })

let sqrtRule = Rule(
    reference: { x, _ in x[0].map(Foundation.sqrt) },
    jvp: { d in d.tangents[0].map { $0 * 0.5 / d.output } },
    vjp: { d in [d.cotangent * 0.5 / d.output] })

/// relu'(x) = step(x); the kink at 0 takes derivative 0, as every framework does.
/// Written as step(relu(x)), which is the same mask: then x has relu as its only reader,
/// so the planner computes x inside relu's kernel instead of storing it for the backward.
let reluRule = Rule(
    reference: { x, _ in x[0].map { Swift.max($0, 0) } },
    jvp: { d in d.tangents[0].map { $0 * step(d.output) } },
    vjp: { d in [d.cotangent * step(d.output)] })

let stepRule = zeroDerivativeRule { x, _ in x[0].map { $0 > 0 ? 1 : 0 } }

let signRule = zeroDerivativeRule { x, _ in x[0].map { $0 > 0 ? 1 : ($0 < 0 ? -1 : 0) } }

let stopGradientRule = zeroDerivativeRule { x, _ in x[0] }

let addRule = Rule(
    reference: { x, _ in zip(x[0], x[1], +) },
    jvp: { d in addTangents(d.tangents[0], d.tangents[1]) },
    vjp: { d in [d.cotangent, d.cotangent] })

let subRule = Rule(
    reference: { x, _ in zip(x[0], x[1], -) },
    jvp: { d in addTangents(d.tangents[0], d.tangents[1].map { -$0 }) },
    vjp: { d in [d.cotangent, -d.cotangent] })

let mulRule = Rule(
    reference: { x, _ in zip(x[0], x[1], *) },
    jvp: { d in addTangents(d.tangents[0].map { $0 * d.operands[1] }, d.tangents[1].map { d.operands[0] * $0 }) },
    vjp: { d in [d.cotangent * d.operands[1], d.operands[0] * d.cotangent] })

/// y = a / b: dy = (da − y·db) / b.
let divRule = Rule(
    reference: { x, _ in zip(x[0], x[1], /) },
    jvp: { d in
        addTangents(d.tangents[0], d.tangents[1].map { -(d.output * $0) }).map { $0 / d.operands[1] }
    },
    vjp: { d in
        let ga = d.cotangent / d.operands[1]
        return [ga, -(ga * d.output)]
    })

/// Ties send the derivative to the first operand (a ≥ b picks a).
let maximumRule = Rule(
    reference: { x, _ in zip(x[0], x[1]) { Swift.max($0, $1) } },
    jvp: { d in selectTangent(mask: step(d.operands[1] - d.operands[0]), d.tangents[1], d.tangents[0]) },
    vjp: { d in
        let pickB = step(d.operands[1] - d.operands[0])
        return [d.cotangent * (1 - pickB), d.cotangent * pickB]
    })

/// Ties send the derivative to the first operand (a ≤ b picks a).
let minimumRule = Rule(
    reference: { x, _ in zip(x[0], x[1]) { Swift.min($0, $1) } },
    jvp: { d in selectTangent(mask: step(d.operands[0] - d.operands[1]), d.tangents[1], d.tangents[0]) },
    vjp: { d in
        let pickB = step(d.operands[0] - d.operands[1])
        return [d.cotangent * (1 - pickB), d.cotangent * pickB]
    })

let equalRule = zeroDerivativeRule { x, _ in zip(x[0], x[1]) { $0 == $1 ? 1 : 0 } }

/// `mask·whenOne + (1−mask)·whenZero` with nil tangents as zero.
func selectTangent(mask: Tensor, _ whenOne: Tensor?, _ whenZero: Tensor?) -> Tensor? {
    addTangents(whenOne.map { $0 * mask }, whenZero.map { $0 * (1 - mask) })
}
