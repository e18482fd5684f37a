import Foundation

public enum TableFormat: String, CaseIterable, Sendable {
    case md, csv, tex, html
}

extension TableResults {
    /// The table in `format`: mean ± std over seeds, the paper's value and the difference
    /// beside each cell, the best mean per column in bold (highest accuracy, lowest time or
    /// memory). `linkBase` is the folder the html file is written in (links are relative to it).
    public func render(_ format: TableFormat, linkBase: String? = nil) -> String {
        switch format {
        case .md: return markdown
        case .csv: return csv
        case .tex: return tex
        case .html: return html(linkBase: linkBase)
        }
    }

    private func number(_ value: Double, _ kind: TableSpec.ColumnKind) -> String {
        kind.isAccuracy ? String(format: "%.2f", value) : String(format: "%.0f", value)
    }

    private func signed(_ value: Double, _ kind: TableSpec.ColumnKind) -> String {
        (value >= 0 ? "+" : "−") + number(abs(value), kind)
    }

    /// `83.41 ± 0.52` (`83.41` for one seed, `83.41 ± 0.52 (2/3 seeds)` when seeds are missing).
    private func value(_ cell: Cell, _ kind: TableSpec.ColumnKind, plusMinus: String) -> String? {
        guard let mean = cell.mean else { return nil }
        var text = number(mean, kind)
        if let std = cell.std { text += plusMinus + number(std, kind) }
        if cell.count < spec.seeds.count { text += " (\(cell.count)/\(spec.seeds.count) seeds)" }
        return text
    }

    private var notes: [String] {
        var notes = ["mean ± sample std over seeds \(spec.seeds.map(String.init).joined(separator: ", ")); "
                     + "in brackets the paper's value and our difference; bold: best per column"]
        if rows.contains(where: { $0.cells.contains(where: \.bestEver) }) {
            notes.append("† best-ever checkpoint: the highest accuracy on the evaluated split over kept epochs, "
                         + "as the paper selects (on test data); unmarked cells use the validation-selected checkpoint")
        }
        return notes
    }

    var markdown: String {
        let columns = spec.columns
        var lines = ["**\(spec.title)**", "",
                     "| row | " + columns.map { "\($0.title) (\($0.kind.unit))" }.joined(separator: " | ") + " |",
                     "|---|" + columns.map { _ in "---|" }.joined()]
        for row in rows {
            let cells = zip(columns, row.cells).map { column, cell -> String in
                var text = value(cell, column.kind, plusMinus: " ± ").map { cell.best ? "**\($0)**" : $0 } ?? "–"
                if cell.bestEver && cell.mean != nil { text += " †" }
                if let paper = cell.paper {
                    text += " [paper " + number(paper, column.kind) + (cell.difference.map { ", " + signed($0, column.kind) } ?? "") + "]"
                }
                return text
            }
            lines.append("| \(row.label) | " + cells.joined(separator: " | ") + " |")
        }
        return (lines + [""] + notes.map { "_\($0)_" }).joined(separator: "\n") + "\n"
    }

    var csv: String {
        func quoted(_ text: String) -> String {
            text.contains(",") || text.contains("\"") ? "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : text
        }
        var header = ["row"]
        for column in spec.columns {
            header += ["mean", "std", "seeds", "paper", "difference", "best"].map { "\(column.title) \($0)" }
        }
        var lines = [header.map(quoted).joined(separator: ",")]
        func field(_ value: Double?) -> String { value.map { String(format: "%.4f", $0) } ?? "" }
        for row in rows {
            var fields = [quoted(row.label)]
            for cell in row.cells {
                fields += [field(cell.mean), field(cell.std), "\(cell.count)", field(cell.paper), field(cell.difference),
                           cell.best ? "1" : "0"]
            }
            lines.append(fields.joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    var tex: String {
        func escaped(_ text: String) -> String {
            var out = ""
            for character in text {
                switch character {
                case "&", "%", "$", "#", "_", "{", "}": out += "\\\(character)"
                case "η": out += "$\\eta$"
                case "±": out += "$\\pm$"
                case "−": out += "$-$"
                default: out.append(character)
                }
            }
            return out
        }
        var lines = ["% \(escaped(spec.title))", "\\begin{tabular}{l" + String(repeating: "r", count: spec.columns.count) + "}",
                     "\\hline",
                     "row & " + spec.columns.map { escaped("\($0.title) (\($0.kind.unit))") }.joined(separator: " & ") + " \\\\",
                     "\\hline"]
        for row in rows {
            let cells = zip(spec.columns, row.cells).map { column, cell -> String in
                guard let text = value(cell, column.kind, plusMinus: " ± ") else {
                    return cell.paper.map { "-- {\\scriptsize (\(number($0, column.kind)))}" } ?? "--"
                }
                var out = cell.best ? "\\textbf{\(escaped(text))}" : escaped(text)
                if cell.bestEver { out += "$^\\dagger$" }
                if let paper = cell.paper, let difference = cell.difference {
                    out += " {\\scriptsize (\(number(paper, column.kind)), \(escaped(signed(difference, column.kind))))}"
                }
                return out
            }
            lines.append(escaped(row.label) + " & " + cells.joined(separator: " & ") + " \\\\")
        }
        lines += ["\\hline", "\\end{tabular}"] + notes.map { "% " + escaped($0) }
        return lines.joined(separator: "\n") + "\n"
    }

    func html(linkBase: String?) -> String {
        func escaped(_ text: String) -> String {
            text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
                .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
        }
        var lines = ["<table>", "<caption>\(escaped(spec.title))</caption>",
                     "<tr><th>row</th>" + spec.columns.map { "<th>\(escaped("\($0.title) (\($0.kind.unit))"))</th>" }.joined() + "</tr>"]
        for row in rows {
            // Each seed's run has its report (`rat report RUN` writes <run>/report.html).
            let links = row.folders.map { seed, folder in
                "<a href=\"\(escaped(relativePath(folder + "/report.html", from: linkBase)))\">s\(seed)</a>"
            }.joined(separator: " ")
            var cells = "<td>\(escaped(row.label)) <small>\(links)</small></td>"
            for (column, cell) in zip(spec.columns, row.cells) {
                var text = value(cell, column.kind, plusMinus: " ± ").map(escaped) ?? "–"
                if cell.best && cell.mean != nil { text = "<b>\(text)</b>" }
                if cell.bestEver && cell.mean != nil { text += " †" }
                if let first = cell.sources.first {
                    text = "<a href=\"\(escaped(relativePath(first.folder + "/report.html", from: linkBase)))\">\(text)</a>"
                }
                if let paper = cell.paper {
                    text += " <small>[paper \(number(paper, column.kind))"
                        + (cell.difference.map { ", " + escaped(signed($0, column.kind)) } ?? "") + "]</small>"
                }
                cells += "<td>\(text)</td>"
            }
            lines.append("<tr>\(cells)</tr>")
        }
        lines.append("</table>")
        lines += notes.map { "<p><small>\(escaped($0))</small></p>" }
        return lines.joined(separator: "\n") + "\n"
    }
}

/// `path` as seen from the folder `base` (both relative to the working directory or absolute).
func relativePath(_ path: String, from base: String?) -> String {
    guard let base, !base.isEmpty, base != "." else { return path }
    let cwd = FileManager.default.currentDirectoryPath
    func parts(_ p: String) -> [String] {
        URL(fileURLWithPath: p, relativeTo: URL(fileURLWithPath: cwd + "/")).standardizedFileURL.path
            .split(separator: "/").map(String.init)
    }
    let target = parts(path), from = parts(base)
    var common = 0
    while common < min(target.count, from.count), target[common] == from[common] { common += 1 }
    return (Array(repeating: "..", count: from.count - common) + target[common...]).joined(separator: "/")
}
