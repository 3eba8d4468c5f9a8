/// The `<hex>  <path>` lines that b3sum and sha256sum print and read back with `--check`.
///
/// A path containing a backslash or a newline is written escaped (`\\`, `\n`) on a line that starts with a
/// backslash, as b3sum and GNU coreutils do, so every path round-trips through a list.
public enum HashListing {
    /// One listing line for `digest` of `path`, without the trailing newline.
    public static func line(for digest: Digest, path: String) -> String {
        let (escaped, isEscaped) = escape(path)
        return (isEscaped ? "\\" : "") + digest.hex + "  " + escaped
    }

    /// One `--check` result line: `<path>: OK`, `<path>: FAILED` or `<path>: FAILED (<reason>)`.
    public static func checkLine(path: String, outcome: CheckOutcome) -> String {
        let (escaped, isEscaped) = escape(path)
        let prefix = (isEscaped ? "\\" : "") + escaped
        switch outcome {
        case .matched: return prefix + ": OK"
        case .mismatched: return prefix + ": FAILED"
        case .unreadable(let error): return prefix + ": FAILED (\(error.systemMessage))"
        }
    }

    /// One expected digest read from a check list.
    public struct Entry: Hashable, Sendable {
        public var expected: Digest
        public var path: String
        /// 1-based line in the list.
        public var line: Int

        public init(expected: Digest, path: String, line: Int) {
            self.expected = expected
            self.path = path
            self.line = line
        }
    }

    /// Parses a check list. Empty lines are skipped; any other line must be `<hex>  <path>` (optionally escaped).
    /// - Parameter listPath: names the list in errors.
    public static func entries(in contents: String, algorithm: HashAlgorithm, listPath: String) throws(HashError)
        -> [Entry]
    {
        var result = [Entry]()
        var lineNumber = 0
        for rawLine in contents.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            var line = Substring(rawLine)
            if line.hasSuffix("\r") { line = line.dropLast() }
            if line.isEmpty { continue }
            let isEscaped = line.hasPrefix("\\")
            if isEscaped { line = line.dropFirst() }
            let hexLength = 2 * algorithm.digestByteCount
            guard line.utf8.count > hexLength + 2,
                let separator = line.utf8.index(line.startIndex, offsetBy: hexLength, limitedBy: line.endIndex),
                line[separator...].hasPrefix("  "),
                let digest = Digest(algorithm: algorithm, hex: line[..<separator])
            else {
                throw HashError(code: .malformedCheckLine, path: listPath, line: lineNumber)
            }
            let rawPath = line[line.index(separator, offsetBy: 2)...]
            guard let path = isEscaped ? unescape(rawPath) : String(rawPath) else {
                throw HashError(code: .malformedCheckLine, path: listPath, line: lineNumber)
            }
            result.append(Entry(expected: digest, path: path, line: lineNumber))
        }
        return result
    }

    /// The result of checking one entry.
    public enum CheckOutcome: Hashable, Sendable {
        case matched
        case mismatched
        case unreadable(HashError)
    }

    private static func escape(_ path: String) -> (String, Bool) {
        guard path.utf8.contains(where: { $0 == UInt8(ascii: "\\") || $0 == UInt8(ascii: "\n") }) else {
            return (path, false)
        }
        var escaped = ""
        for character in path {
            switch character {
            case "\\": escaped += "\\\\"
            case "\n": escaped += "\\n"
            default: escaped.append(character)
            }
        }
        return (escaped, true)
    }

    private static func unescape(_ text: Substring) -> String? {
        var result = ""
        var iterator = text.makeIterator()
        while let character = iterator.next() {
            guard character == "\\" else {
                result.append(character)
                continue
            }
            switch iterator.next() {
            case "\\": result.append("\\")
            case "n": result.append("\n")
            default: return nil
            }
        }
        return result
    }
}
