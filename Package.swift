// swift-tools-version: 6.1
// rat: adversarial-training research on a compiled, differentiable graph.
// Module order follows the data flow: recipe → planner → graph (+ autodiff) → executor →
// kernels; data → shards → loader; models, objectives, training, evaluation; the CLI on top.
import PackageDescription

/// Release builds are the only ones that matter for numeric loops (debug is 5–36× slower).
/// Release is `-O`, which keeps `precondition`s (shape checks, planner/kernel agreement).
/// LIBMVEC lets LLVM vectorize exp/log/sqrt in elementwise loops: glibc's libmvec, which
/// x86_64 has (Debian 12's glibc has none for arm64, so there it is left out).
#if arch(x86_64)
let vectorMathFlags = ["-Xllvm", "-vector-library=LIBMVEC"]
let vectorMathLibraries: [LinkerSetting] = [.linkedLibrary("mvec")]
#else
let vectorMathFlags: [String] = []
let vectorMathLibraries: [LinkerSetting] = []
#endif
let fastMath: [SwiftSetting] = [
    .unsafeFlags(["-Xcc", "-fno-math-errno"] + vectorMathFlags, .when(configuration: .release)),
]

/// Only the kernels drop bounds and overflow checks and preconditions (`-Ounchecked`): it
/// halved their index-heavy loops (im2col) when measured; the naive kernels beside them are
/// the tests' check instead. Every other module keeps them at no measured cost
/// (docs/performance.md, 2026-12-01).
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
        .target(name: "Recipe", dependencies: ["CYAML", "Attacks", "Objectives", "Models", "Kernels"]),
        .target(name: "Graph", swiftSettings: fastMath),
        .target(name: "Planner", dependencies: ["Graph", "CMachine"], swiftSettings: fastMath),
        // No -target-cpu: the binary runs on any CPU of its architecture. The worker count and
        // the CPU's features are read at run time (CMachine); the direct convolution's inner
        // loops are C built twice, for AVX2 + FMA and portably, chosen at run time.
        .target(name: "CMachine", path: "Sources/System/CMachine"),
        .target(name: "CDirectKernels", path: "Sources/System/CDirectKernels"),
        // The fused elementwise interpreter, built for AVX-512, AVX2 and the baseline alike.
        .target(name: "CElementwise", path: "Sources/System/CElementwise"),
        // oneDNN's convolutions (Debian's libdnnl-dev, x86_64 and arm64), wrapped in C;
        // libgomp is oneDNN's OpenMP runtime, whose thread count rat sets.
        .target(name: "COneDNN", path: "Sources/System/COneDNN",
                linkerSettings: [.linkedLibrary("dnnl"), .linkedLibrary("gomp")]),
        .target(name: "Kernels", dependencies: ["COpenBLAS", "CMachine", "CDirectKernels", "CElementwise", "COneDNN"],
                swiftSettings: uncheckedFastMath, linkerSettings: vectorMathLibraries),
        .target(name: "Executor", dependencies: ["Graph", "Planner", "Kernels"], swiftSettings: fastMath),

        // Data → shards → loader.
        .target(name: "Shards", dependencies: ["CZstd", "CZlib"], swiftSettings: fastMath),
        .target(name: "Data", dependencies: ["Shards", "CZlib"], swiftSettings: fastMath),
        .target(name: "Loader", dependencies: ["Shards"], swiftSettings: fastMath),

        // Models and objectives are compositions of graph primitives.
        .target(name: "Models", dependencies: ["Graph"]),
        .target(name: "Objectives", dependencies: ["Graph", "Models"]),
        // Attacks drive compiled graphs from host-side loops: training and evaluation share them.
        .target(name: "Attacks", dependencies: ["Graph", "Models", "Objectives", "Executor"], swiftSettings: fastMath),
        .target(name: "Checkpoints"),
        // Processes training or sweeping together (MPI when launched by mpirun, else a group of
        // one). Not named `Distributed`: the toolchain has a module of that name.
        // Open MPI is loaded at run time (dlopen), only under mpirun: a plain rat links no MPI
        // library and starts as fast as without it. Its header is Debian's <mpi/mpi.h>
        // (libopenmpi-dev); the library is libmpi.so.40 (libopenmpi3).
        .target(name: "CMPI", path: "Sources/System/CMPI"),
        .target(name: "Collective", dependencies: ["CMPI"], path: "Sources/Collective"),
        .target(name: "Training", dependencies: ["Recipe", "Graph", "Planner", "Executor", "Models",
                                                 "Objectives", "Attacks", "Loader", "Shards", "Checkpoints", "Collective", "Kernels"],
                swiftSettings: fastMath),
        .target(name: "Evaluation", dependencies: ["Training", "Attacks", "Graph", "Models", "Loader", "Recipe", "Checkpoints"], swiftSettings: fastMath),
        // Paper tables: specs of rows × columns × seeds, their runs, costs and rendering.
        .target(name: "Tables", dependencies: ["Collective", "Recipe", "Training", "Evaluation", "Graph", "Planner", "Executor", "Models", "Kernels",
                                               "Loader", "Shards"]),

        // Pictures: an SVG writer; run reports (HTML) and loss landscapes drawn with it.
        .target(name: "Plots"),
        .target(name: "Reports", dependencies: ["Plots", "Recipe"]),
        .target(name: "Landscapes", dependencies: ["Plots", "Training", "Attacks", "Graph", "Models", "Recipe", "Loader", "Executor"],
                swiftSettings: fastMath),

        // The commands are a library so that tests run them in-process; the executable is
        // a thin `main` (parse, re-execute with the OpenBLAS settings, run).
        .target(name: "Commands", dependencies: [
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            "Recipe", "Graph", "Planner", "Executor", "Kernels", "Models", "Objectives", "Attacks",
            "Shards", "Data", "Loader", "Checkpoints", "Training", "Evaluation", "Collective",
            "Plots", "Reports", "Landscapes", "Tables",
        ]),
        .executableTarget(name: "rat", dependencies: [
            .product(name: "ArgumentParser", package: "swift-argument-parser"), "Commands",
        ]),

        // Tests/Fixtures/ holds files shared by several test targets, read by path (#filePath).
        .testTarget(name: "GraphTests", dependencies: ["Graph", "Models", "Objectives", "Checkpoints"]),
        .testTarget(name: "ExecutorTests", dependencies: ["Graph", "Planner", "Executor", "Kernels", "CDirectKernels", "Models", "Objectives"]),
        .testTarget(name: "DataTests", dependencies: ["Shards", "Data", "Loader", "CZlib"]),
        .testTarget(name: "RecipeTests", dependencies: ["Recipe", "Objectives", "Models"], resources: [.copy("Recipes")]),
        .testTarget(name: "ModelsTests", dependencies: ["Models", "Graph"]),
        .testTarget(name: "ObjectivesTests", dependencies: ["Graph", "Models", "Objectives", "Recipe", "Training"]),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "Evaluation", "Checkpoints", "Recipe", "Models", "Graph", "Objectives", "Loader", "Planner", "Attacks", "Executor"]),
        .testTarget(name: "AttacksTests", dependencies: ["Attacks", "Graph", "Models", "Objectives", "Executor"]),
        .testTarget(name: "CheckpointsTests", dependencies: ["Checkpoints"], resources: [.copy("Fixtures")]),
        .testTarget(name: "DistributedTests", dependencies: ["Collective", "Data", "Checkpoints"]),
        .testTarget(name: "TablesTests", dependencies: ["Tables", "Recipe", "Training"]),
        .testTarget(name: "CommandsTests", dependencies: [
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            "Commands", "Evaluation", "Recipe", "Training", "Checkpoints", "Shards", "Data",
        ]),
        .testTarget(name: "PlotsTests", dependencies: ["Plots"]),
        .testTarget(name: "ReportsTests", dependencies: [
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            "Commands", "Reports", "Landscapes", "Plots", "Recipe", "Training", "Attacks", "Executor", "Graph", "Loader",
            "Shards", "Data",
        ]),
    ]
)
