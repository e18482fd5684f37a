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
    /// Lines of text under the panels (e.g. a warning), drawn in the note colour.
    public var notes: [String] = []

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
        for note in notes {
            y += 16
            body += "<text class=\"note\" x=\"8\" y=\"\(fmt(y))\" font-size=\"\(Style.fontSize)\" fill=\"\(Style.noteColour)\">"
                + "\(xmlEscaped(note))</text>\n"
        }
        if !notes.isEmpty { y += 8 }
        return "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(fmt(width))\" height=\"\(fmt(y))\" "
            + "viewBox=\"0 0 \(fmt(width)) \(fmt(y))\" font-family=\"\(Style.font)\" font-size=\"\(Style.fontSize)\">\n"
            + "<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n" + body + "</svg>"
    }

    /// A standalone `.svg` file's text.
    public var svgDocument: String { "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + svgElement + "\n" }
}
