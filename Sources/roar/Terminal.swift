import RoarExport

#if canImport(Glibc)
    import Glibc
#endif

/// Text styling for standard output: colour only on a terminal, never with `NO_COLOR` set.
struct Terminal {
    var usesColor: Bool

    static let standardOutput = Terminal(
        usesColor: isatty(1) == 1 && getenv("NO_COLOR") == nil && getenv("TERM").map { String(cString: $0) } != "dumb")

    func bold(_ text: String) -> String { paint(text, "1") }
    func dim(_ text: String) -> String { paint(text, "2") }
    func green(_ text: String) -> String { paint(text, "32") }
    func red(_ text: String) -> String { paint(text, "31") }
    func yellow(_ text: String) -> String { paint(text, "33") }
    func cyan(_ text: String) -> String { paint(text, "36") }

    func paint(_ text: String, _ code: String) -> String {
        usesColor ? "\u{1B}[\(code)m\(text)\u{1B}[0m" : text
    }

    /// Lays rows out in columns padded to the widest cell (by visible characters).
    static func table(_ rows: [[String]], visibleWidth: (String) -> Int = Terminal.visibleWidth) -> [String] {
        guard let columns = rows.map(\.count).max() else { return [] }
        var widths = [Int](repeating: 0, count: columns)
        for row in rows {
            for (index, cell) in row.enumerated() { widths[index] = max(widths[index], visibleWidth(cell)) }
        }
        return rows.map { row in
            row.enumerated().map { index, cell in
                index == row.count - 1 ? cell : cell + String(repeating: " ", count: widths[index] - visibleWidth(cell))
            }.joined(separator: "  ")
        }
    }

    /// Characters a terminal shows: escape sequences take no room.
    static func visibleWidth(_ text: String) -> Int {
        var width = 0
        var inEscape = false
        for scalar in text.unicodeScalars {
            if inEscape {
                if scalar == "m" { inEscape = false }
            } else if scalar == "\u{1B}" {
                inEscape = true
            } else {
                width += 1
            }
        }
        return width
    }

    func status(_ status: String) -> String {
        switch status {
        case "ok": green(status)
        case "failed", "killed": red(status)
        case "partial", "running": yellow(status)
        default: status
        }
    }
}

extension Terminal {
    /// The text layout's styling for this terminal.
    var textStyle: TextStyle {
        let terminal = self
        return TextStyle(
            bold: { terminal.bold($0) }, dim: { terminal.dim($0) }, cyan: { terminal.cyan($0) },
            status: { terminal.status($0) })
    }
}

/// Writes a line to standard error (progress, warnings): never mixed into output a script parses.
func printError(_ text: String) {
    var line = text + "\n"
    line.withUTF8 { buffer in _ = write(2, buffer.baseAddress, buffer.count) }
}

/// Seconds as a short human duration.
func formatDuration(_ seconds: Double?) -> String {
    guard let seconds else { return "-" }
    if seconds < 1 { return "\(Int((seconds * 1000).rounded()))ms" }
    if seconds < 60 { return String(Int(seconds * 10) / 10) + "." + String(Int(seconds * 10) % 10) + "s" }
    return "\(Int(seconds) / 60)m\(Int(seconds) % 60)s"
}

/// Bytes as a short human size.
func formatSize(_ bytes: Int64?) -> String {
    guard let bytes else { return "-" }
    let units = ["B", "KiB", "MiB", "GiB", "TiB"]
    var value = Double(bytes)
    var unit = 0
    while value >= 1024 && unit < units.count - 1 {
        value /= 1024
        unit += 1
    }
    return unit == 0 ? "\(bytes)B" : String(Int(value * 10) / 10) + "." + String(Int(value * 10) % 10) + units[unit]
}
