// swift-tools-version: 6.1
// rat: adversarial-training research on a compiled, differentiable graph.
// Module order follows the data flow: recipe → planner → graph (+ autodiff) → executor →
// kernels; data → shards → loader; models, objectives, training, evaluation; the CLI on top.
import PackageDescription

/// Release builds are the only ones that matter for numeric loops (debug is 5–36× slower).
/// Release is `-O`, which keeps `precondition`s (shape checks, planner/kernel agreement).
/// LIBMVEC lets LLVM vectorize exp/log/sqrt in elementwise loops.
let fastMath: [SwiftSetting] = [
    .unsafeFlags(["-Xcc", "-fno-math-errno", "-Xllvm", "-vector-library=LIBMVEC"],
                 .when(configuration: .release)),
]

/// Only the kernels, whose index-heavy loops measurably pay for it (docs/performance.md,
/// 2026-12-01), drop bounds and overflow checks and preconditions with `-Ounchecked`.
let uncheckedFastMath: [SwiftSetting] = [
    .unsafeFlags(["-Ounchecked"], .when(configuration: .release)),
] + fastMath

let package = Package(
    name: "rat",
    platforms: [.macOS(.v14)],
    products: [.executable(name: "rat", targets: ["rat"])],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // System libraries (Debian -dev packages).
        .systemLibrary(name: "COpenBLAS", path: "Sources/System/COpenBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CZstd", path: "Sources/System/CZstd", pkgConfig: "libzstd",
                       providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(name: "CYAML", path: "Sources/System/CYAML", pkgConfig: "yaml-0.1",
                       providers: [.apt(["libyaml-dev"])]),
        .systemLibrary(name: "CZlib", path: "Sources/System/CZlib", pkgConfig: "zlib",
                       providers: [.apt(["zlib1g-dev"])]),

        // Recipe → planner → graph (+ autodiff) → executor → kernels.
        .target(name: "Recipe", dependencies: ["CYAML"]),
        .target(name: "Graph", swiftSettings: fastMath),
        .target(name: "Planner", dependencies: ["Graph"], swiftSettings: fastMath),
        // The kernels use AVX2/FMA (the direct convolution's SIMD8 multiply-adds); the
        // OpenBLAS kernels `rat` selects (Haswell) need the same CPU.
        .target(name: "Kernels", dependencies: ["COpenBLAS"],
                swiftSettings: uncheckedFastMath + [.unsafeFlags(["-target-cpu", "haswell"], .when(configuration: .release))],
                linkerSettings: [.linkedLibrary("mvec")]),
        .target(name: "Executor", dependencies: ["Graph", "Planner", "Kernels"], swiftSettings: fastMath),

        // Data → shards → loader.
        .target(name: "Shards", dependencies: ["CZstd", "CZlib"], swiftSettings: fastMath),
        .target(name: "Data", dependencies: ["Shards", "CZlib"], swiftSettings: fastMath),
        .target(name: "Loader", dependencies: ["Shards"], swiftSettings: fastMath),

        // Models and objectives are compositions of graph primitives.
        .target(name: "Models", dependencies: ["Graph"]),
        .target(name: "Objectives", dependencies: ["Graph", "Models"]),
        .target(name: "Checkpoints"),
        .target(name: "Training", dependencies: ["Recipe", "Graph", "Planner", "Executor", "Models",
                                                 "Objectives", "Loader", "Shards", "Checkpoints"],
                swiftSettings: fastMath),
        .target(name: "Evaluation", dependencies: ["Training", "Graph", "Models", "Loader", "Recipe", "Checkpoints"], swiftSettings: fastMath),

        .executableTarget(name: "rat", dependencies: [
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            "Recipe", "Graph", "Planner", "Executor", "Kernels", "Models", "Objectives",
            "Shards", "Data", "Loader", "Checkpoints", "Training", "Evaluation",
        ]),

        .testTarget(name: "GraphTests", dependencies: ["Graph", "Models", "Objectives", "Checkpoints"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "ExecutorTests", dependencies: ["Graph", "Planner", "Executor", "Kernels", "Models", "Objectives"]),
        .testTarget(name: "DataTests", dependencies: ["Shards", "Data", "Loader", "CZlib"]),
        .testTarget(name: "RecipeTests", dependencies: ["Recipe"], resources: [.copy("Recipes")]),
        .testTarget(name: "ModelsTests", dependencies: ["Models", "Graph"]),
        .testTarget(name: "ObjectivesTests", dependencies: ["Graph", "Models", "Objectives", "Recipe", "Training"]),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "Evaluation", "Checkpoints", "Recipe", "Models", "Graph", "Objectives", "Loader", "Planner"]),
        .testTarget(name: "CheckpointsTests", dependencies: ["Checkpoints"], resources: [.copy("Fixtures")]),
    ]
)
