import Foundation

/// Values on a regular 2-D grid drawn as coloured cells (viridis) with contour lines at
/// `levels`, a colour bar, and optionally a dashed square marking a radius (the threat's ε).
/// Panels that share `colourRange` and axes can be compared cell by cell.
public struct HeatMap: Panel {
    public var title: String
    public var x: Axis
    public var y: Axis
    /// values[j][i]: the value at x index i, y index j (y from lower to upper), evenly spaced
    /// from x.lower to x.upper and y.lower to y.upper.
    public var values: [[Double]]
    public var colourLabel: String
    public var colourRange: ClosedRange<Double>
    public var levels: [Double]
    /// Half-width of a dashed square drawn around the origin (nil: none).
    public var marked: Double?
    public var width = 360.0
    public var height = 300.0

    public init(title: String, x: Axis, y: Axis, values: [[Double]], colourLabel: String,
                colourRange: ClosedRange<Double>, levels: [Double], marked: Double? = nil) {
        precondition(values.count >= 2 && values.allSatisfy { $0.count == values[0].count && $0.count >= 2 },
                     "a heat map needs a rectangular grid of at least 2×2 values")
        self.title = title
        self.x = x
        self.y = y
        self.values = values
        self.colourLabel = colourLabel
        self.colourRange = colourRange
        self.levels = levels
        self.marked = marked
    }

    public var size: (width: Double, height: Double) { (width, height) }

    /// Square plotting area; the colour bar sits at the right.
    public var frame: PlotFrame {
        let side = min(width - 62 - 78, height - 24 - 44)
        return PlotFrame(left: 62, top: 24, width: side, height: side, x: x, y: y)
    }

    func colour(_ value: Double) -> String {
        let span = colourRange.upperBound - colourRange.lowerBound
        return value.isFinite ? viridis(span > 0 ? (value - colourRange.lowerBound) / span : 0.5) : "#ffffff"
    }

    public func render() -> String {
        let f = frame
        let (rows, columns) = (values.count, values[0].count)
        let (cellW, cellH) = (f.width / Double(columns - 1), f.height / Double(rows - 1))
        // A node's cell is centred on it; the outer half cells are clipped to the frame.
        // A deterministic id (hashValue is seeded per process): the same figure, the same file.
        let clip = "clip" + String(title.unicodeScalars.reduce(UInt32(5381)) { ($0 &* 33) ^ $1.value }, radix: 16)
        var out = "<clipPath id=\"\(clip)\"><rect x=\"\(fmt(f.left))\" y=\"\(fmt(f.top))\" "
            + "width=\"\(fmt(f.width))\" height=\"\(fmt(f.height))\"/></clipPath>\n"
        out += "<g clip-path=\"url(#\(clip))\" shape-rendering=\"crispEdges\">"
        for j in 0..<rows {
            for i in 0..<columns {
                let cx = f.left + Double(i) * cellW, cy = f.top + f.height - Double(j) * cellH
                out += "<rect x=\"\(fmt(cx - cellW / 2))\" y=\"\(fmt(cy - cellH / 2))\" width=\"\(fmt(cellW + 0.3))\" "
                    + "height=\"\(fmt(cellH + 0.3))\" fill=\"\(colour(values[j][i]))\"/>"
            }
        }
        out += "</g>\n<g class=\"contours\" stroke=\"#ffffff\" stroke-width=\"0.9\" fill=\"none\">"
        for level in levels {
            var d = ""
            for segment in contourSegments(level) {
                let (a, b) = segment
                d += "M\(fmt(f.left + a.0 * cellW)) \(fmt(f.top + f.height - a.1 * cellH))"
                    + "L\(fmt(f.left + b.0 * cellW)) \(fmt(f.top + f.height - b.1 * cellH))"
            }
            if !d.isEmpty { out += "<path data-level=\"\(shortNumber(level))\" d=\"\(d)\"/>" }
        }
        out += "</g>\n"
        if let r = marked, let (x0, y0) = f.position(-r, r), let (x1, y1) = f.position(r, -r) {
            out += "<rect x=\"\(fmt(x0))\" y=\"\(fmt(y0))\" width=\"\(fmt(x1 - x0))\" height=\"\(fmt(y1 - y0))\" fill=\"none\" "
                + "stroke=\"#ffffff\" stroke-width=\"1.4\" stroke-dasharray=\"5 3\"/>\n"
        }
        out += f.axes(title: title).replacingOccurrences(of: "stroke=\"\(Style.gridColour)\"", with: "stroke=\"none\"")
        out += colourBar(left: f.left + f.width + 14, top: f.top, height: f.height)
        return out
    }

    func colourBar(left: Double, top: Double, height: Double) -> String {
        let steps = 40
        var out = "<g shape-rendering=\"crispEdges\">"
        for k in 0..<steps {
            let t = (Double(k) + 0.5) / Double(steps)
            out += "<rect x=\"\(fmt(left))\" y=\"\(fmt(top + height * (1 - Double(k + 1) / Double(steps))))\" width=\"12\" "
                + "height=\"\(fmt(height / Double(steps) + 0.3))\" fill=\"\(viridis(t))\"/>"
        }
        out += "</g><rect x=\"\(fmt(left))\" y=\"\(fmt(top))\" width=\"12\" height=\"\(fmt(height))\" fill=\"none\" stroke=\"\(Style.axisColour)\"/>"
        let axis = Axis(label: colourLabel, lower: colourRange.lowerBound, upper: colourRange.upperBound)
        out += "<g font-size=\"\(Style.smallFontSize)\">"
        for tick in axis.ticks {
            guard let f = axis.fraction(tick) else { continue }
            let py = top + height * (1 - f)
            out += "<line x1=\"\(fmt(left + 12))\" y1=\"\(fmt(py))\" x2=\"\(fmt(left + 15))\" y2=\"\(fmt(py))\" stroke=\"\(Style.axisColour)\"/>"
                + "<text x=\"\(fmt(left + 17))\" y=\"\(fmt(py + 4))\">\(shortNumber(tick))</text>"
        }
        // The bar's label runs upwards beside its tick labels.
        out += "</g><text transform=\"translate(\(fmt(left + 52)) \(fmt(top + height / 2))) rotate(-90)\" text-anchor=\"middle\" "
            + "font-size=\"\(Style.smallFontSize)\">\(xmlEscaped(colourLabel))</text>\n"
        return out
    }

    /// Marching squares: the line segments where the bilinear surface crosses `level`, in
    /// grid units (x index, y index).
    public func contourSegments(_ level: Double) -> [((Double, Double), (Double, Double))] {
        var segments = [((Double, Double), (Double, Double))]()
        for j in 0..<(values.count - 1) {
            for i in 0..<(values[0].count - 1) {
                // Corners counter-clockwise from bottom-left; edges between consecutive corners.
                let corners = [(Double(i), Double(j), values[j][i]), (Double(i + 1), Double(j), values[j][i + 1]),
                               (Double(i + 1), Double(j + 1), values[j + 1][i + 1]), (Double(i), Double(j + 1), values[j + 1][i])]
                guard corners.allSatisfy({ $0.2.isFinite }) else { continue }
                var crossings = [(Double, Double)]()
                for k in 0..<4 {
                    let a = corners[k], b = corners[(k + 1) % 4]
                    if (a.2 < level) != (b.2 < level) {
                        let t = (level - a.2) / (b.2 - a.2)
                        crossings.append((a.0 + t * (b.0 - a.0), a.1 + t * (b.1 - a.1)))
                    }
                }
                if crossings.count >= 2 { segments.append((crossings[0], crossings[1])) }
                if crossings.count == 4 { segments.append((crossings[2], crossings[3])) }
            }
        }
        return segments
    }
}
