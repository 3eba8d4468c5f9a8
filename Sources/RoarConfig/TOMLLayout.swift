// Why this hand-written layout code stays (checked against TOMLKit 0.6.0, issue 16): TOMLKit
// cannot preserve a user's comments and order. It wraps toml++, whose parser drops comments
// (`consume_comment` skips them; no node keeps them) and whose tables are a
// `std::map<toml::key, node_ptr, std::less<>>` (toml.hpp, `table::map_type`): keys come back
// sorted, not as written. Re-serialising the parsed document for `roar config set` would so lose
// every comment and reorder the file. TOMLKit still parses and validates; this only locates keys
// in the text (for error lines and one-value edits in place).

/// Where the keys and values of a TOML document sit in its text.
///
/// TOMLKit (toml++) reports positions only for syntax errors, not for keys, so roar scans the
/// text itself to name the line of a wrong key and to edit one value in place without touching
/// the rest of the file. The scanner reads table headers, keys (bare, quoted, dotted), and the
/// extent of each value (strings of all four kinds, nested arrays, inline tables), skipping
/// comments. It trusts the document to be valid TOML: run it only on text TOMLKit accepted.
struct TOMLLayout {
    /// `key = value`, at any depth (inside `[table]`s and inline tables).
    struct Assignment {
        /// Full path from the root: `["ray", "enabled"]`.
        var path: [String]
        /// The key as written before `=`, relative to its table: `["enabled"]` or `["ray", "enabled"]`.
        var writtenKey: [String]
        /// Byte offsets into the UTF-8 text.
        var keyStart: Int
        var valueStart: Int
        var valueEnd: Int
        /// Written inside `{ … }`.
        var isInsideInlineTable: Bool
        /// The value is an inline table `{ … }`.
        var isInlineTable: Bool
    }

    /// `[table]` or `[[array.of.tables]]`.
    struct Header {
        var path: [String]
        var start: Int
        /// Just after the closing bracket.
        var end: Int
        var isArrayOfTables: Bool
    }

    let bytes: [UInt8]
    let assignments: [Assignment]
    let headers: [Header]
    /// Offset of the first byte of each line.
    private let lineStarts: [Int]

    init(_ text: String) {
        let bytes = Array(text.utf8)
        var scanner = Scanner(bytes: bytes)
        scanner.scanDocument()
        self.bytes = bytes
        self.assignments = scanner.assignments.sorted { $0.keyStart < $1.keyStart }
        self.headers = scanner.headers
        var lineStarts = [0]
        for (offset, byte) in bytes.enumerated() where byte == UInt8(ascii: "\n") {
            lineStarts.append(offset + 1)
        }
        self.lineStarts = lineStarts
    }

    /// 1-based line of a byte offset.
    func line(at offset: Int) -> Int {
        var low = 0
        var high = lineStarts.count
        while low < high {
            let middle = (low + high) / 2
            if lineStarts[middle] <= offset { low = middle + 1 } else { high = middle }
        }
        return low
    }

    func assignment(at path: [String]) -> Assignment? {
        assignments.first { $0.path == path }
    }

    /// The line where `path` is defined: its `key =`, its `[header]`, the inline table holding
    /// it, or else the first key written under it.
    func line(of path: [String]) -> Int? {
        if let assignment = assignment(at: path) { return line(at: assignment.keyStart) }
        if let header = headers.first(where: { $0.path == path }) { return line(at: header.start) }
        for length in stride(from: path.count - 1, through: 1, by: -1) {
            if let enclosing = assignment(at: Array(path.prefix(length))) { return line(at: enclosing.keyStart) }
        }
        let starts =
            assignments.filter { $0.path.starts(with: path) }.map(\.keyStart)
            + headers.filter { $0.path.starts(with: path) }.map(\.start)
        return starts.min().map { line(at: $0) }
    }

    /// The offset of the first byte of the line holding `offset`.
    func lineStart(of offset: Int) -> Int {
        lineStarts[line(at: offset) - 1]
    }

    /// The offset just past the newline that ends the line holding `offset` (or the end).
    func lineEnd(of offset: Int) -> Int {
        let line = line(at: offset)
        return line < lineStarts.count ? lineStarts[line] : bytes.count
    }
}

private let quote = UInt8(ascii: "\"")
private let apostrophe = UInt8(ascii: "'")
private let backslash = UInt8(ascii: "\\")
private let newline = UInt8(ascii: "\n")

private struct Scanner {
    let bytes: [UInt8]
    var index = 0
    var assignments: [TOMLLayout.Assignment] = []
    var headers: [TOMLLayout.Header] = []

    init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    var current: UInt8? { index < bytes.count ? bytes[index] : nil }

    func byte(at offset: Int) -> UInt8? { offset < bytes.count ? bytes[offset] : nil }

    mutating func scanDocument() {
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { index = 3 }
        var table: [String] = []
        while true {
            skipTrivia()
            guard let byte = current else { return }
            let start = index
            if byte == UInt8(ascii: "[") {
                let isArrayOfTables = self.byte(at: index + 1) == UInt8(ascii: "[")
                index += isArrayOfTables ? 2 : 1
                let path = scanKey()
                skipSpaces()
                while current == UInt8(ascii: "]") { index += 1 }
                table = path
                headers.append(.init(path: path, start: start, end: index, isArrayOfTables: isArrayOfTables))
            } else {
                scanKeyValue(table: table, isInsideInlineTable: false, records: true)
            }
            if index == start { index += 1 }
        }
    }

    mutating func scanKeyValue(table: [String], isInsideInlineTable: Bool, records: Bool) {
        let keyStart = index
        let key = scanKey()
        skipSpaces()
        if current == UInt8(ascii: "=") { index += 1 }
        skipSpaces()
        let valueStart = index
        let isInlineTable = current == UInt8(ascii: "{")
        scanValue(path: table + key, records: records)
        guard records, !key.isEmpty else { return }
        assignments.append(
            .init(
                path: table + key, writtenKey: key, keyStart: keyStart, valueStart: valueStart, valueEnd: index,
                isInsideInlineTable: isInsideInlineTable, isInlineTable: isInlineTable))
    }

    /// A dotted key: `a`, `"a b".c`, `'x' . y`.
    mutating func scanKey() -> [String] {
        var parts: [String] = []
        while true {
            skipSpaces()
            guard let byte = current else { break }
            if byte == quote {
                parts.append(scanBasicString())
            } else if byte == apostrophe {
                parts.append(scanLiteralString())
            } else {
                let start = index
                while let byte = current, isBareKeyByte(byte) { index += 1 }
                if start == index { break }
                parts.append(String(decoding: bytes[start..<index], as: UTF8.self))
            }
            skipSpaces()
            guard current == UInt8(ascii: ".") else { break }
            index += 1
        }
        return parts
    }

    mutating func scanValue(path: [String], records: Bool) {
        guard let byte = current else { return }
        switch byte {
        case quote:
            if self.byte(at: index + 1) == quote, self.byte(at: index + 2) == quote {
                scanMultilineString(delimiter: quote)
            } else {
                _ = scanBasicString()
            }
        case apostrophe:
            if self.byte(at: index + 1) == apostrophe, self.byte(at: index + 2) == apostrophe {
                scanMultilineString(delimiter: apostrophe)
            } else {
                _ = scanLiteralString()
            }
        case UInt8(ascii: "["):
            index += 1
            while true {
                skipTrivia()
                guard let byte = current else { return }
                if byte == UInt8(ascii: "]") {
                    index += 1
                    return
                }
                if byte == UInt8(ascii: ",") {
                    index += 1
                    continue
                }
                let start = index
                scanValue(path: path, records: false)
                if index == start { index += 1 }
            }
        case UInt8(ascii: "{"):
            index += 1
            while true {
                skipTrivia()
                guard let byte = current else { return }
                if byte == UInt8(ascii: "}") {
                    index += 1
                    return
                }
                if byte == UInt8(ascii: ",") {
                    index += 1
                    continue
                }
                let start = index
                scanKeyValue(table: path, isInsideInlineTable: true, records: records)
                if index == start { index += 1 }
            }
        default:
            // Numbers, booleans, dates (which may hold one space): up to the end of the value.
            let start = index
            while let byte = current, !"\n#,]}".utf8.contains(byte) { index += 1 }
            while index > start, [UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r")].contains(bytes[index - 1])
            {
                index -= 1
            }
        }
    }

    /// `"…"` with escapes; returns the decoded string (used for quoted keys).
    mutating func scanBasicString() -> String {
        index += 1
        var scalars = String.UnicodeScalarView()
        var pending: [UInt8] = []
        func flush() {
            scalars.append(contentsOf: String(decoding: pending, as: UTF8.self).unicodeScalars)
            pending.removeAll()
        }
        while let byte = current, byte != newline {
            index += 1
            if byte == quote { break }
            guard byte == backslash, let escaped = current else {
                pending.append(byte)
                continue
            }
            index += 1
            flush()
            switch escaped {
            case UInt8(ascii: "n"): scalars.append("\n")
            case UInt8(ascii: "t"): scalars.append("\t")
            case UInt8(ascii: "r"): scalars.append("\r")
            case UInt8(ascii: "b"): scalars.append("\u{08}")
            case UInt8(ascii: "f"): scalars.append("\u{0C}")
            case UInt8(ascii: "e"): scalars.append("\u{1B}")
            case UInt8(ascii: "u"), UInt8(ascii: "U"):
                let length = escaped == UInt8(ascii: "u") ? 4 : 8
                let end = min(index + length, bytes.count)
                let hex = String(decoding: bytes[index..<end], as: UTF8.self)
                index = end
                if let value = UInt32(hex, radix: 16), let scalar = Unicode.Scalar(value) { scalars.append(scalar) }
            default: scalars.append(Unicode.Scalar(escaped))
            }
        }
        flush()
        return String(scalars)
    }

    /// `'…'`, no escapes.
    mutating func scanLiteralString() -> String {
        index += 1
        let start = index
        while let byte = current, byte != apostrophe, byte != newline { index += 1 }
        let string = String(decoding: bytes[start..<index], as: UTF8.self)
        if current == apostrophe { index += 1 }
        return string
    }

    /// `"""…"""` or `'''…'''`, which may span lines and end with up to two more delimiters.
    mutating func scanMultilineString(delimiter: UInt8) {
        index += 3
        while let byte = current {
            if delimiter == quote, byte == backslash {
                index += 2
                continue
            }
            if byte == delimiter, self.byte(at: index + 1) == delimiter, self.byte(at: index + 2) == delimiter {
                index += 3
                var extra = 0
                while extra < 2, current == delimiter {
                    index += 1
                    extra += 1
                }
                return
            }
            index += 1
        }
        index = min(index, bytes.count)
    }

    mutating func skipSpaces() {
        while let byte = current, byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") { index += 1 }
    }

    /// Spaces, newlines and comments.
    mutating func skipTrivia() {
        while let byte = current {
            if byte == UInt8(ascii: "#") {
                while let byte = current, byte != newline { index += 1 }
            } else if " \t\r\n".utf8.contains(byte) {
                index += 1
            } else {
                return
            }
        }
    }

    func isBareKeyByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "-"):
            true
        default: false
        }
    }
}
