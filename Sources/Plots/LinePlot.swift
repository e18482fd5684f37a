import Foundation

/// One axis of a panel: its label (with units), its data range and whether it is logarithmic.
public struct Axis: Sendable {
    public var label: String
    public var lower: Double
    public var upper: Double
    public var logarithmic: Bool
    /// Ticks only at whole numbers (epochs).
    public var integerTicks = false

    public init(label: String, lower: Double, upper: Double, logarithmic: Bool = false) {
        self.label = label
        self.lower = lower
        self.upper = upper
        self.logarithmic = logarithmic
    }

    /// An axis of whole numbers from `values`' least to largest (one unit either side of a
    /// single value), ticked at whole numbers only.
    public static func counting(_ values: [Double], label: String) -> Axis {
        let finite = values.filter(\.isFinite)
        var low = finite.min() ?? 0, high = finite.max() ?? 1
        if high == low { low -= 1; high += 1 }
        // A little room so that the first and last markers do not sit on the frame.
        let room = (high - low) * 0.04
        var axis = Axis(label: label, lower: low - room, upper: high + room)
        axis.integerTicks = true
        return axis
    }

    /// Where `value` falls between lower (0) and upper (1); nil if it cannot be drawn
    /// (not finite, or ≤ 0 on a logarithmic axis).
    public func fraction(_ value: Double) -> Double? {
        guard value.isFinite, !logarithmic || value > 0 else { return nil }
        let (v, a, b) = logarithmic ? (log10(value), log10(lower), log10(upper)) : (value, lower, upper)
        return b > a ? (v - a) / (b - a) : 0.5
    }

    public var ticks: [Double] {
        guard logarithmic else {
            guard integerTicks else { return niceTicks(lower, upper) }
            let step = max(1, ((upper - lower) / 5).rounded(.up))
            return stride(from: ceil(lower), through: upper, by: step).map { $0 }
        }
        let decades = Array(Int(floor(log10(lower)))...Int(ceil(log10(upper))))
        let multiples: [Double] = decades.count <= 2 ? [1, 2, 5] : decades.count <= 4 ? [1, 3] : [1]
        let all = decades.flatMap { d in multiples.map { $0 * pow(10, Double(d)) } }
        return all.filter { $0 >= lower * (1 - 1e-9) && $0 <= upper * (1 + 1e-9) }
    }

    /// The range of `values` (finite ones; positive ones on a log axis), padded a little;
    /// [0, 1] when nothing can be drawn.
    public static func fitting(_ values: [Double], label: String, logarithmic: Bool = false,
                               includeZero: Bool = false) -> Axis {
        let usable = values.filter { $0.isFinite && (!logarithmic || $0 > 0) }
        guard var low = usable.min(), var high = usable.max() else {
            return Axis(label: label, lower: logarithmic ? 0.1 : 0, upper: 1, logarithmic: logarithmic)
        }
        if logarithmic {
            if high / low < 10 { low /= 1.5; high *= 1.5 }
            return Axis(label: label, lower: pow(10, floor(log10(low) * 4) / 4), upper: pow(10, ceil(log10(high) * 4) / 4),
                        logarithmic: true)
        }
        if includeZero { low = min(low, 0); high = max(high, 0) }
        // A little room so that markers do not sit on the frame.
        let room = (high - low) * 0.04
        if high > low { (low, high) = (low - (includeZero && low == 0 ? 0 : room), high + room) }
        if high == low { let pad = high == 0 ? 1 : abs(high) * 0.1; low -= pad; high += pad }
        let ticks = niceTicks(low, high)
        let step = ticks.count > 1 ? ticks[1] - ticks[0] : (high - low)
        return Axis(label: label, lower: (low / step).rounded(.down) * step, upper: (high / step).rounded(.up) * step)
    }
}

/// A named line; NaN (or, on a log axis, non-positive) y values leave a gap in it.
public struct Series: Sendable {
    public var name: String
    public var points: [(x: Double, y: Double)]
    /// Index into the palette: the same run or term keeps its colour across panels.
    public var style: Int

    public init(name: String, points: [(x: Double, y: Double)], style: Int) {
        self.name = name
        self.points = points
        self.style = style
    }
}

/// A panel of line series over shared axes, with a legend below and a red note naming the
/// points that could not be drawn.
public struct LinePlot: Panel {
    public var title: String
    public var x: Axis
    public var y: Axis
    public var series: [Series]
    public var width = 360.0
    /// Height of the plotting area's panel without the legend and notes.
    public var plotHeight = 230.0

    public init(title: String, x: Axis, y: Axis, series: [Series]) {
        self.title = title
        self.x = x
        self.y = y
        self.series = series
    }

    /// The plotting rectangle inside the panel (left margin for the y ticks and label).
    public var frame: PlotFrame { PlotFrame(left: 62, top: 24, width: width - 62 - 14, height: plotHeight - 24 - 44, x: x, y: y) }

    /// Descriptions of the points left out, e.g. "robust: no value at epoch 3".
    public var missing: [String] {
        series.flatMap { s in
            s.points.filter { y.fraction($0.y) == nil || x.fraction($0.x) == nil }
                .map { "\(s.name): no value at \(x.label.split(separator: " ").first ?? "x") \(shortNumber($0.x)) (\($0.y))" }
        }
    }

    var legendRows: [[Int]] {
        var rows: [[Int]] = [[]]
        var used = 0.0
        for (i, s) in series.enumerated() {
            let w = 30 + textWidth(legendName(s), size: Style.smallFontSize) + 12
            if used + w > width - 20, !rows[rows.count - 1].isEmpty { rows.append([]); used = 0 }
            rows[rows.count - 1].append(i)
            used += w
        }
        return series.isEmpty ? [] : rows
    }

    /// A series' name as the legend shows it: cut to the panel's width.
    func legendName(_ s: Series) -> String { fitted(s.name, width: width - 20 - 30 - 12, size: Style.smallFontSize) }

    public var size: (width: Double, height: Double) {
        (width, plotHeight + Double(legendRows.count) * 16 + Double(missing.isEmpty ? 0 : missing.count + 1) * 14 + 6)
    }

    public func render() -> String {
        let f = frame
        var out = f.axes(title: title)
        for s in series {
            var path = ""
            var penDown = false
            var markers = ""
            for p in s.points {
                guard let (px, py) = f.position(p.x, p.y) else { penDown = false; continue }
                path += (penDown ? "L" : "M") + fmt(px) + " " + fmt(py) + " "
                penDown = true
                markers += "<circle class=\"point\" cx=\"\(fmt(px))\" cy=\"\(fmt(py))\" r=\"\(Style.markerRadius)\"/>"
            }
            let colour = Style.colour(s.style)
            let dash = Style.dash(s.style).map { " stroke-dasharray=\"\($0)\"" } ?? ""
            out += "<g class=\"series\" data-series=\"\(xmlEscaped(s.name))\" stroke=\"\(colour)\" fill=\"\(colour)\">"
            if !path.isEmpty { out += "<path d=\"\(path)\" fill=\"none\" stroke-width=\"\(Style.lineWidth)\"\(dash)/>" }
            out += markers + "</g>\n"
        }
        var lineY = plotHeight + 4
        for row in legendRows {
            var xPos = 14.0
            for i in row {
                let s = series[i]
                let dash = Style.dash(s.style).map { " stroke-dasharray=\"\($0)\"" } ?? ""
                out += "<line x1=\"\(fmt(xPos))\" y1=\"\(fmt(lineY - 4))\" x2=\"\(fmt(xPos + 24))\" y2=\"\(fmt(lineY - 4))\" "
                    + "stroke=\"\(Style.colour(s.style))\" stroke-width=\"\(Style.lineWidth)\"\(dash)/>"
                out += "<text x=\"\(fmt(xPos + 30))\" y=\"\(fmt(lineY))\" font-size=\"\(Style.smallFontSize)\">\(xmlEscaped(legendName(s)))</text>"
                xPos += 30 + textWidth(legendName(s), size: Style.smallFontSize) + 12
            }
            lineY += 16
        }
        let notes = missing
        if !notes.isEmpty {
            let lines = ["\(notes.count) point\(notes.count == 1 ? "" : "s") not drawn (gap in the line):"] + notes
            for line in lines.map({ fitted($0, width: width - 20, size: Style.smallFontSize) }) {
                out += "<text class=\"note\" x=\"14\" y=\"\(fmt(lineY))\" font-size=\"\(Style.smallFontSize)\" "
                    + "fill=\"\(Style.noteColour)\">\(xmlEscaped(line))</text>\n"
                lineY += 14
            }
        }
        return out
    }
}

/// The plotting rectangle of a panel and the mapping from data to its coordinates.
public struct PlotFrame: Sendable {
    public var left, top, width, height: Double
    public var x: Axis
    public var y: Axis

    /// The SVG coordinates of a data point (y grows downwards); nil if it cannot be drawn.
    public func position(_ xValue: Double, _ yValue: Double) -> (Double, Double)? {
        guard let fx = x.fraction(xValue), let fy = y.fraction(yValue) else { return nil }
        return (left + fx * width, top + (1 - fy) * height)
    }

    /// Title, grid, ticks with labels, axis labels.
    func axes(title: String) -> String {
        var out = "<text x=\"\(fmt(left))\" y=\"15\" font-size=\"\(Style.fontSize)\" font-weight=\"bold\">\(xmlEscaped(title))</text>\n"
        out += "<g stroke=\"\(Style.gridColour)\" stroke-width=\"0.8\">"
        var labels = ""
        for tick in x.ticks {
            guard let f = x.fraction(tick) else { continue }
            let px = fmt(left + f * width)
            out += "<line x1=\"\(px)\" y1=\"\(fmt(top))\" x2=\"\(px)\" y2=\"\(fmt(top + height))\"/>"
            labels += "<text x=\"\(px)\" y=\"\(fmt(top + height + 14))\" text-anchor=\"middle\">\(shortNumber(tick))</text>"
        }
        for tick in y.ticks {
            guard let f = y.fraction(tick) else { continue }
            let py = fmt(top + (1 - f) * height)
            out += "<line x1=\"\(fmt(left))\" y1=\"\(py)\" x2=\"\(fmt(left + width))\" y2=\"\(py)\"/>"
            labels += "<text x=\"\(fmt(left - 5))\" y=\"\(fmt(top + (1 - f) * height + 4))\" text-anchor=\"end\">\(shortNumber(tick))</text>"
        }
        out += "</g>\n<rect x=\"\(fmt(left))\" y=\"\(fmt(top))\" width=\"\(fmt(width))\" height=\"\(fmt(height))\" "
            + "fill=\"none\" stroke=\"\(Style.axisColour)\" stroke-width=\"1\"/>\n"
        out += "<g font-size=\"\(Style.smallFontSize)\" fill=\"\(Style.axisColour)\">\(labels)</g>\n"
        out += "<text x=\"\(fmt(left + width / 2))\" y=\"\(fmt(top + height + 32))\" text-anchor=\"middle\" "
            + "font-size=\"\(Style.fontSize)\">\(xmlEscaped(x.label))</text>\n"
        let cy = top + height / 2
        out += "<text transform=\"translate(14 \(fmt(cy))) rotate(-90)\" text-anchor=\"middle\" "
            + "font-size=\"\(Style.fontSize)\">\(xmlEscaped(y.label))</text>\n"
        return out
    }
}
