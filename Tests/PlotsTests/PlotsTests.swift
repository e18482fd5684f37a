import Foundation
import Plots
import Testing

/// Whether libxml2's `xmllint --noout` accepts `text` as well-formed XML; nil when xmllint is
/// not installed (Debian's libxml2-utils, which scripts/setup.sh installs).
func wellFormed(_ text: String, _ name: String = "figure.svg") throws -> Bool? {
    guard let xmllint = ["/usr/bin/xmllint", "/usr/local/bin/xmllint"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
        print("xmllint is not installed (apt-get install libxml2-utils): well-formedness not checked")
        return nil
    }
    let file = FileManager.default.temporaryDirectory.appendingPathComponent("rat-plots-\(getpid())-\(name)")
    try Data(text.utf8).write(to: file)
    defer { try? FileManager.default.removeItem(at: file) }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: xmllint)
    process.arguments = ["--noout", file.path]
    try process.run()
    process.waitUntilExit()
    return process.terminationStatus == 0
}

/// (cx, cy) of every `<circle class="point" …>` in order.
func markers(_ svg: String) -> [(Double, Double)] {
    let pattern = try! NSRegularExpression(pattern: #"<circle class="point" cx="([-0-9.]+)" cy="([-0-9.]+)""#)
    return pattern.matches(in: svg, range: NSRange(svg.startIndex..., in: svg)).map { match in
        let x = Double(svg[Range(match.range(at: 1), in: svg)!])!, y = Double(svg[Range(match.range(at: 2), in: svg)!])!
        return (x, y)
    }
}

@Test("a line's markers sit where the axes put its values, and the figure is well-formed SVG")
func pointsMapToValues() throws {
    let values = [0.9, 0.4, 0.25, 0.3]
    let series = Series(name: "loss <natural> & co", points: values.enumerated().map { (Double($0.offset + 1), $0.element) }, style: 0)
    let plot = LinePlot(title: "Loss", x: Axis.fitting([1, 4], label: "epoch"), y: Axis.fitting(values, label: "loss (nats)"),
                        series: [series])
    let svg = Figure(panels: [plot]).svgDocument
    #expect(try wellFormed(svg) != false)
    let drawn = markers(svg)
    #expect(drawn.count == values.count)
    let frame = plot.frame
    for (index, value) in values.enumerated() {
        // Inverse mapping: from the drawn pixel back to data, through the frame's edges and the axis range.
        let (px, py) = drawn[index]
        let x = plot.x.lower + (px - frame.left) / frame.width * (plot.x.upper - plot.x.lower)
        let y = plot.y.lower + (frame.top + frame.height - py) / frame.height * (plot.y.upper - plot.y.lower)
        #expect(abs(x - Double(index + 1)) < 0.01)
        #expect(abs(y - value) < 0.005 * (plot.y.upper - plot.y.lower))
    }
    #expect(plot.y.lower <= 0.25 && plot.y.upper >= 0.9)
    #expect(svg.contains("loss &lt;natural&gt; &amp; co"))
}

@Test("a NaN value leaves a gap in the line and a red note naming it, not a broken file")
func nanLeavesGap() throws {
    let points: [(x: Double, y: Double)] = [(1, 1.0), (2, 0.8), (3, .nan), (4, 0.5), (5, 0.4)]
    let plot = LinePlot(title: "Loss", x: Axis.fitting([1, 5], label: "epoch"), y: Axis.fitting(points.map(\.y), label: "loss"),
                        series: [Series(name: "robust", points: points, style: 1)])
    let svg = Figure(panels: [plot]).svgDocument
    #expect(try wellFormed(svg) != false)
    #expect(!svg.contains("nan\"") && !svg.contains("NaN\""))
    #expect(markers(svg).count == 4)
    let path = svg.components(separatedBy: "<path d=\"")[1].prefix { $0 != "\"" }
    #expect(path.filter { $0 == "M" }.count == 2, "the line restarts after the missing epoch")
    #expect(plot.missing == ["robust: no value at epoch 3 (nan)"])
    #expect(svg.contains("class=\"note\"") && svg.contains("robust: no value at epoch 3"))
}

@Test("a log axis maps decades evenly and leaves non-positive values out")
func logarithmicAxis() {
    let axis = Axis(label: "loss", lower: 1e-4, upper: 1, logarithmic: true)
    #expect(abs(axis.fraction(1e-2)! - 0.5) < 1e-12)
    #expect(axis.fraction(0) == nil && axis.fraction(-1) == nil)
    #expect(axis.ticks.contains(1e-3) && axis.ticks.allSatisfy { $0 >= 1e-4 && $0 <= 1 })
}

@Test("contours of a cone are circles at the level's radius; the heat map is well-formed")
func contoursOfCone() throws {
    let n = 21
    let grid = (0..<n).map { j in (0..<n).map { i in hypot(Double(i - 10), Double(j - 10)) } }
    let map = HeatMap(title: "cone", x: Axis(label: "α", lower: -1, upper: 1), y: Axis(label: "β", lower: -1, upper: 1),
                      values: grid, colourLabel: "distance", colourRange: 0...15, levels: [5, 8], marked: 0.5)
    for level in [5.0, 8.0] {
        let segments = map.contourSegments(level)
        #expect(segments.count > 20)
        for (a, b) in segments {
            // Linear interpolation between nodes underestimates a circle by at most ~0.1 grid units here.
            #expect(abs(hypot(a.0 - 10, a.1 - 10) - level) < 0.15)
            #expect(abs(hypot(b.0 - 10, b.1 - 10) - level) < 0.15)
        }
    }
    #expect(try wellFormed(Figure(panels: [map, map]).svgDocument) != false)
}

@Test("ticks are round numbers covering the range")
func ticksCoverRange() {
    let ticks = niceTicks(0.013, 0.87)
    #expect(ticks.first! >= 0.013 && ticks.last! <= 0.87 && ticks.count >= 4)
    #expect(ticks == ticks.sorted())
    #expect(ticks.allSatisfy { abs($0 * 10 - ($0 * 10).rounded()) < 1e-9 })
}
