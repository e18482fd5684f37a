import Foundation

/// The one look of every rat figure: sizes in SVG user units (px at 96 dpi), chosen so that
/// a 360-unit-wide panel printed 8 cm wide keeps its text at ≈ 7 pt.
public enum Style {
    public static let font = "DejaVu Sans, Helvetica, Arial, sans-serif"
    public static let fontSize = 12.0
    public static let smallFontSize = 10.5
    public static let lineWidth = 1.8
    public static let markerRadius = 2.6
    public static let axisColour = "#333333"
    public static let gridColour = "#dddddd"
    /// Notes about missing data and warnings: red, so that they are not missed.
    public static let noteColour = "#b2182b"

    /// Okabe & Ito (2008), the colour-blind-safe categorical palette; yellow last (faint on white).
    public static let palette = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442"]

    public static func colour(_ index: Int) -> String { palette[index % palette.count] }

    /// Solid for the first 8 styles; past them the colours repeat, dashed (so style i + 8 is
    /// style i's colour, dashed: a second quantity of the same run).
    public static func dash(_ index: Int) -> String? {
        index < palette.count ? nil : ["6 3", "2 2", "8 3 2 3"][(index / palette.count - 1) % 3]
    }
}

/// Text made safe inside XML content and attribute values.
public func xmlEscaped(_ text: String) -> String {
    var out = ""
    out.reserveCapacity(text.count)
    for c in text {
        switch c {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case "'": out += "&apos;"
        default: out.append(c)
        }
    }
    return out
}

/// A coordinate written with two decimals (SVG needs no more at these sizes).
func fmt(_ value: Double) -> String { String(format: "%.2f", value) }

/// A tick or data value written short: 0.05, 1.2e-4, 250.
public func shortNumber(_ value: Double) -> String {
    if value == 0 { return "0" }
    let magnitude = abs(value)
    if magnitude >= 1e-3 && magnitude < 1e5 {
        var text = String(format: "%.4g", value)
        if text.contains("e") { text = String(format: "%.4f", value) }
        return text
    }
    // Two significant digits (3.5e-4, not 3e-4: neighbouring ticks must read differently).
    return String(format: "%.1e", value).replacingOccurrences(of: ".0e", with: "e")
        .replacingOccurrences(of: "e-0", with: "e-").replacingOccurrences(of: "e+0", with: "e")
}

/// `text` cut to about `width` units, with an ellipsis where it was cut.
func fitted(_ text: String, width: Double, size: Double) -> String {
    let characters = Int(width / (size * 0.58))
    return text.count <= characters ? text : String(text.prefix(max(characters - 1, 1))) + "…"
}

/// Estimated width of `text` at `size` (no font metrics in SVG; 0.58 em per character fits
/// DejaVu Sans digits and lower case well enough to lay out legends).
func textWidth(_ text: String, size: Double = Style.fontSize) -> Double { Double(text.count) * size * 0.58 }

/// Ticks at 1, 2 or 5 × 10^k covering [lower, upper] with about `count` steps.
public func niceTicks(_ lower: Double, _ upper: Double, count: Int = 5) -> [Double] {
    guard upper > lower, lower.isFinite, upper.isFinite else { return [lower] }
    let raw = (upper - lower) / Double(max(count, 1))
    let power = pow(10, floor(log10(raw)))
    let step = [1.0, 2, 5, 10].map { $0 * power }.first { $0 >= raw } ?? 10 * power
    var ticks = [Double]()
    var tick = (lower / step).rounded(.down) * step
    while tick <= upper + step * 1e-9 {
        if tick >= lower - step * 1e-9 { ticks.append(abs(tick) < step * 1e-9 ? 0 : tick) }
        tick += step
    }
    return ticks
}

/// A sequential colour-blind-safe map (viridis, from its published anchor colours), t in [0, 1].
public func viridis(_ t: Double) -> String {
    let anchors: [(Double, Double, Double)] = [
        (68, 1, 84), (72, 40, 120), (62, 74, 137), (49, 104, 142), (38, 130, 142),
        (31, 158, 137), (53, 183, 121), (109, 205, 89), (180, 222, 44), (253, 231, 37),
    ]
    let clamped = t.isFinite ? min(max(t, 0), 1) : 0
    let position = clamped * Double(anchors.count - 1)
    let i = min(Int(position), anchors.count - 2)
    let f = position - Double(i)
    let (a, b) = (anchors[i], anchors[i + 1])
    func mix(_ p: Double, _ q: Double) -> Int { Int((p + (q - p) * f).rounded()) }
    return String(format: "#%02x%02x%02x", mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}
