/// A drawable block of a figure, in its own coordinates from (0, 0) to `size`.
public protocol Panel: Sendable {
    var size: (width: Double, height: Double) { get }
    /// SVG elements (no `<svg>` wrapper).
    func render() -> String
}

/// Panels laid out in rows of `columns`, as one standalone SVG document (with the XML
/// declaration) or as an element to inline in HTML.
public struct Figure: Sendable {
    public var panels: [any Panel]
    public var columns: Int
    /// Lines of text under the panels (what the figure shows, how it was computed), wrapped.
    public var captions: [String] = []

    public init(panels: [any Panel], columns: Int = 2) {
        self.panels = panels
        self.columns = max(1, columns)
    }

    /// The `<svg>` element; `id` and the panels' content are all it holds (no scripts, no links).
    public var svgElement: String {
        var rows = [[any Panel]]()
        for (i, panel) in panels.enumerated() {
            if i % columns == 0 { rows.append([]) }
            rows[rows.count - 1].append(panel)
        }
        var body = ""
        var y = 0.0, width = 0.0
        for row in rows {
            var x = 0.0
            for panel in row {
                body += "<g transform=\"translate(\(fmt(x)) \(fmt(y)))\">\n\(panel.render())</g>\n"
                x += panel.size.width
            }
            width = max(width, x)
            y += row.map(\.size.height).max() ?? 0
        }
        width = max(width, captions.isEmpty ? 0 : 360)
        // Captions wrap at the figure's width (at least one panel's).
        let characters = max(40, Int(max(width, 360) / (Style.smallFontSize * 0.58)) - 2)
        for note in captions.flatMap({ wrapped($0, characters) }) {
            y += 16
            body += "<text class=\"caption\" x=\"8\" y=\"\(fmt(y))\" font-size=\"\(Style.smallFontSize)\" fill=\"\(Style.axisColour)\">"
                + "\(xmlEscaped(note))</text>\n"
        }
        if !captions.isEmpty { y += 8 }
        return "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(fmt(width))\" height=\"\(fmt(y))\" "
            + "viewBox=\"0 0 \(fmt(width)) \(fmt(y))\" font-family=\"\(Style.font)\" font-size=\"\(Style.fontSize)\">\n"
            + "<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n" + body + "</svg>"
    }

    /// Words of `text` in lines of at most `width` characters.
    func wrapped(_ text: String, _ width: Int) -> [String] {
        var lines = [String](), line = ""
        for word in text.split(separator: " ") {
            if !line.isEmpty && line.count + 1 + word.count > width { lines.append(line); line = "" }
            line += (line.isEmpty ? "" : " ") + word
        }
        return lines + (line.isEmpty ? [] : [line])
    }

    /// A standalone `.svg` file's text.
    public var svgDocument: String { "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + svgElement + "\n" }
}
