import Foundation
import Training

/// Shows training progress: a bar redrawn in place on a terminal, plain lines (every ten
/// batches and at the end of an epoch) when standard output is a file or a pipe.
final class ProgressDisplay {
    private let isTerminal = isatty(STDOUT_FILENO) == 1
    private var lastDraw = Date.distantPast
    private var barShown = false

    func show(_ p: Trainer.Progress) {
        let terms = p.terms.map { String(format: "%@ %.4f", $0.name, $0.value) }.joined(separator: "  ")
        let status = String(format: "epoch %d/%d  batch %d/%d  loss %.4f  %@  eta %@", p.epoch, p.epochs, p.batch, p.batches,
                            p.total, terms, duration(p.secondsLeft))
        let endOfEpoch = p.batch == p.batches
        if isTerminal {
            // Redraw at most 10 times a second; always draw the epoch's last batch.
            guard endOfEpoch || Date().timeIntervalSince(lastDraw) > 0.1 else { return }
            lastDraw = Date()
            let width = 24
            let filled = p.batches == 0 ? width : width * p.batch / p.batches
            let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
            write("\r\u{1B}[2K\(bar) \(status)" + (endOfEpoch ? "\n" : ""))
            barShown = !endOfEpoch
        } else if p.batch % 10 == 0 || endOfEpoch {
            write(status + "\n")
        }
    }

    /// A log line, below the bar if one is being drawn.
    func line(_ text: String) {
        if barShown { write("\n"); barShown = false }
        write(text + "\n")
    }

    private func write(_ text: String) { FileHandle.standardOutput.write(Data(text.utf8)) }

    private func duration(_ seconds: Double) -> String {
        guard seconds.isFinite else { return "?" }
        let s = Int(seconds.rounded())
        return s >= 3600 ? "\(s / 3600)h\(s % 3600 / 60)m" : s >= 60 ? "\(s / 60)m\(s % 60)s" : "\(s)s"
    }
}
