extension RoarConfig {
    /// Sets one key in `roar.toml`, editing the text in place: every other line, comment, blank
    /// line and key order stays as it was.
    ///
    /// - An existing `key = value` gets its value replaced; a comment after it on the line stays
    ///   (comments inside a replaced multi-line array go with the old value).
    /// - A new key goes after the last key of its section (a `[section]` table, dotted
    ///   `section.key` lines, or an inline `section = { … }`); in a section with no keys yet it
    ///   replaces a commented-out example line `# key = …` if there is one, else follows the
    ///   header; a missing section is appended at the end of the file.
    /// - `glaas.url` set to `""` removes the line.
    /// - A missing file is first created from ``defaultFileContents()``.
    ///
    /// TOMLKit cannot do this itself: it re-serialises a whole document without its comments.
    ///
    /// `value` is text as ``value(forKey:)`` prints it: `true`/`false` (also `yes`/`no`, `on`/`off`,
    /// `1`/`0`), an integer, a string with or without TOML quotes, and for paths a TOML array
    /// (`["/a", "/b"]`) or a `:`-separated list.
    ///
    /// - Throws: ``ConfigError`` without changing the file: `.unknownKey` or `.badValue` for the
    ///   key and value given; `.syntax`, `.unknownKey` or `.badValue` (with its line) when the file
    ///   is already invalid elsewhere; `.unreadable`/`.unwritable` from the file system.
    public static func set(_ key: String, to value: String, inFile path: String) throws(ConfigError) {
        guard let configKey = ConfigKey.named(key) else {
            throw ConfigError.unknownKey(key, file: path, line: nil)
        }
        let setting: SettingValue
        switch configKey.parse(value, subject: key) {
        case .success(let parsed): setting = parsed
        case .failure(let problem):
            throw ConfigError(code: .badValue, file: path, key: key, message: problem.message)
        }
        let existing = try ConfigFile.read(path)
        let original = existing ?? defaultFileContents()
        // A problem elsewhere in the file is the user's to fix; one in this key is what `set` fixes.
        let document = try ConfigDocument(original, file: path)
        if let problem = document.problems.first(where: { $0.key != key }) { throw problem }

        let edited = ConfigFileEditor(layout: document.layout).setting(configKey, to: setting)
        if edited == original && existing != nil { return }
        let check = try ConfigDocument(edited, file: path)
        if let problem = check.problems.first { throw problem }
        try ConfigFile.write(edited, to: path)
    }
}

/// Edits one key of a `roar.toml` text in place, using the positions ``TOMLLayout`` found.
struct ConfigFileEditor {
    let layout: TOMLLayout
    /// `"\r\n"` in a file written with them, else `"\n"`.
    let newline: String

    init(layout: TOMLLayout) {
        self.layout = layout
        let bytes = layout.bytes
        let hasCRLF = bytes.indices.contains { $0 > 0 && bytes[$0] == 0x0A && bytes[$0 - 1] == 0x0D }
        self.newline = hasCRLF ? "\r\n" : "\n"
    }

    func setting(_ key: ConfigKey, to value: SettingValue) -> String {
        let section = key.section
        let field = key.field
        let path = [section, field]
        if value == .unset { return removing(path) }
        let literal = value.tomlLiteral

        if let existing = layout.assignment(at: path) {
            return replacing(existing.valueStart..<existing.valueEnd, with: literal)
        }
        let children = layout.assignments.filter { $0.path.count == 2 && $0.path[0] == section }
        if let inlineTable = layout.assignments.first(where: { $0.path == [section] && $0.isInlineTable }) {
            if let last = children.max(by: { $0.valueEnd < $1.valueEnd }) {
                return replacing(last.valueEnd..<last.valueEnd, with: ", \(Self.keyText([field])) = \(literal)")
            }
            return replacing(
                inlineTable.valueStart..<inlineTable.valueEnd, with: "{ \(Self.keyText([field])) = \(literal) }")
        }
        if let last = children.max(by: { $0.valueEnd < $1.valueEnd }) {
            let keyText = Self.keyText(Array(last.writtenKey.dropLast()) + [field])
            let lineStart = layout.lineStart(of: last.keyStart)
            let indent = String(decoding: layout.bytes[lineStart..<last.keyStart], as: UTF8.self)
            return insertingLine(indent + keyText + " = " + literal, at: layout.lineEnd(of: last.valueEnd))
        }
        if let header = layout.headers.first(where: { $0.path == [section] && !$0.isArrayOfTables }) {
            let bodyStart = layout.lineEnd(of: header.end)
            let bodyEnd = layout.headers.map(\.start).filter { $0 > header.start }.min() ?? layout.bytes.count
            if let example = commentedExample(of: field, in: bodyStart..<bodyEnd) {
                return replacing(example, with: "\(Self.keyText([field])) = \(literal)")
            }
            return insertingLine("\(Self.keyText([field])) = \(literal)", at: bodyStart)
        }
        var text = String(decoding: layout.bytes, as: UTF8.self)
        if !text.isEmpty {
            if layout.bytes.last != 0x0A { text += newline }
            text += newline
        }
        return text + "[\(section)]" + newline + "\(Self.keyText([field])) = \(literal)" + newline
    }

    /// Removes `key = value` (the whole line, or the entry of an inline table).
    private func removing(_ path: [String]) -> String {
        guard let existing = layout.assignment(at: path) else { return String(decoding: layout.bytes, as: UTF8.self) }
        guard existing.isInsideInlineTable else {
            return replacing(layout.lineStart(of: existing.keyStart)..<layout.lineEnd(of: existing.valueEnd), with: "")
        }
        let bytes = layout.bytes
        var start = existing.keyStart
        var end = existing.valueEnd
        var after = end
        while after < bytes.count, bytes[after] == 0x20 || bytes[after] == 0x09 { after += 1 }
        if after < bytes.count, bytes[after] == UInt8(ascii: ",") {
            end = after + 1
            while end < bytes.count, bytes[end] == 0x20 || bytes[end] == 0x09 { end += 1 }
        } else {
            var before = start
            while before > 0, bytes[before - 1] == 0x20 || bytes[before - 1] == 0x09 { before -= 1 }
            if before > 0, bytes[before - 1] == UInt8(ascii: ",") { start = before - 1 }
        }
        return replacing(start..<end, with: "")
    }

    /// The extent (without its newline) of a line `# field = …` within `range`.
    private func commentedExample(of field: String, in range: Range<Int>) -> Range<Int>? {
        var lineStart = range.lowerBound
        while lineStart < range.upperBound {
            let lineEnd = layout.lineEnd(of: lineStart)
            var contentEnd = lineEnd
            while contentEnd > lineStart, [0x0A, 0x0D].contains(layout.bytes[contentEnd - 1]) { contentEnd -= 1 }
            let line = String(decoding: layout.bytes[lineStart..<contentEnd], as: UTF8.self)
            let trimmed = line.drop { $0 == " " || $0 == "\t" }
            if trimmed.hasPrefix("#") {
                let body = trimmed.drop { $0 == "#" || $0 == " " || $0 == "\t" }
                if body.hasPrefix(field) {
                    let rest = body.dropFirst(field.count).drop { $0 == " " || $0 == "\t" }
                    if rest.hasPrefix("=") {
                        let indent = line.utf8.count - trimmed.utf8.count
                        return (lineStart + indent)..<contentEnd
                    }
                }
            }
            if lineEnd <= lineStart { break }
            lineStart = lineEnd
        }
        return nil
    }

    private func replacing(_ range: Range<Int>, with replacement: String) -> String {
        var bytes = layout.bytes
        bytes.replaceSubrange(range, with: Array(replacement.utf8))
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Inserts a line at a line boundary (`offset` is a line start or the end of the text).
    private func insertingLine(_ line: String, at offset: Int) -> String {
        var insertion = line + newline
        if offset == layout.bytes.count, let last = layout.bytes.last, last != 0x0A {
            insertion = newline + insertion
        }
        return replacing(offset..<offset, with: insertion)
    }

    /// A dotted key, quoting the parts that are not bare keys.
    static func keyText(_ parts: [String]) -> String {
        parts.map { part in
            let isBare =
                !part.isEmpty
                && part.utf8.allSatisfy { byte in
                    switch byte {
                    case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                        UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "-"):
                        true
                    default: false
                    }
                }
            return isBare ? part : TOMLText.quoted(part)
        }.joined(separator: ".")
    }
}
