/// Reads spool files written by the preload library and `roar_runtime`.
///
/// A spool file is never trusted to be whole: the writer may have been killed mid-line, or the
/// file damaged. Each bad line becomes a ``SpoolProblem`` naming the file and line; every other
/// line is still read.
public enum SpoolReader {
    /// What one spool file held.
    public struct Contents: Sendable {
        public var file: String
        public var header: SpoolHeader?
        public var records: [SpoolRecord]
        public var problems: [SpoolProblem]
        /// The 1-based line of each of `records` in `file`, for problems found later (an `E`
        /// event that does not decode).
        public var lineNumbers: [Int] = []
    }

    /// Decodes the bytes of one spool file (`file` names it in problems).
    public static func parse(_ bytes: [UInt8], file: String) -> Contents {
        var contents = Contents(file: file, header: nil, records: [], problems: [])
        var lineStart = 0
        var lineNumber = 0
        while lineStart < bytes.count {
            lineNumber += 1
            guard let newline = bytes[lineStart...].firstIndex(of: UInt8(ascii: "\n")) else {
                contents.problems.append(
                    SpoolProblem(
                        file: file, line: lineNumber, kind: .truncated,
                        detail:
                            "last line has no newline (\(bytes.count - lineStart) bytes): the writer was killed mid-write"
                    ))
                break
            }
            let line = bytes[lineStart..<newline]
            lineStart = newline + 1
            if line.isEmpty { continue }
            do {
                let record = try decode(line: line)
                if case .header(let header) = record {
                    if contents.header == nil { contents.header = header }
                }
                contents.records.append(record)
                contents.lineNumbers.append(lineNumber)
            } catch {
                contents.problems.append(
                    SpoolProblem(file: file, line: lineNumber, kind: .corrupt, detail: error.reason))
            }
        }
        if contents.header == nil && !bytes.isEmpty {
            contents.problems.append(
                SpoolProblem(file: file, line: 1, kind: .corrupt, detail: "no H header line; process identity unknown"))
        }
        return contents
    }

    struct LineError: Error {
        var reason: String
    }

    static func decode(line: ArraySlice<UInt8>) throws(LineError) -> SpoolRecord {
        let fields = line.split(separator: UInt8(ascii: "\t"), omittingEmptySubsequences: false)
        guard let typeField = fields.first, typeField.count == 1 else {
            throw LineError(reason: "record type missing")
        }
        var reader = FieldReader(fields: Array(fields.dropFirst()))
        let type = Character(Unicode.Scalar(typeField.first!))
        switch type {
        case "H":
            let version = try reader.int("version")
            guard version == 1 else {
                throw LineError(reason: "spool version \(version) is not supported (expected 1)")
            }
            return .header(
                SpoolHeader(
                    version: version, pid: try reader.int32("pid"), parentPID: try reader.int32("ppid"),
                    startNanoseconds: Int64(try reader.int("start_ns")), executable: try reader.text("exe"),
                    cwd: try reader.text("cwd")))
        case "F":
            let tag = try reader.text("tag")
            let opened = Int64(try reader.int("open_ns"))
            let closed = Int64(try reader.int("close_ns"))
            let mode = try reader.text("mode")
            let bytesRead = Int64(try reader.int("bytes_read"))
            let bytesWritten = Int64(try reader.int("bytes_written"))
            let device = try reader.unsigned("dev")
            let inode = try reader.unsigned("ino")
            let size = Int64(try reader.int("size"))
            let mtime = Int64(try reader.int("mtime_ns"))
            let hashField = try reader.text("hash")
            var hash: (String, String)?
            if hashField != "-" {
                guard let colon = hashField.firstIndex(of: ":") else {
                    throw LineError(reason: "hash '\(hashField)' is not algorithm:hex")
                }
                hash = (String(hashField[..<colon]), String(hashField[hashField.index(after: colon)...]))
            }
            let path = try reader.text("path")
            return .file(
                FileAccess(
                    tag: tag, openedNanoseconds: opened, closedNanoseconds: closed, mode: mode, bytesRead: bytesRead,
                    bytesWritten: bytesWritten,
                    version: FileVersion(device: device, inode: inode, size: size, modifiedNanoseconds: mtime),
                    hash: hash, path: path))
        case "O":
            return .openForWrite(
                tag: try reader.text("tag"), nanoseconds: Int64(try reader.int("ns")), mode: try reader.text("mode"),
                path: try reader.text("path"))
        case "M":
            return .rename(
                tag: try reader.text("tag"), nanoseconds: Int64(try reader.int("ns")),
                from: try reader.text("old_path"),
                to: try reader.text("new_path"))
        case "L":
            return .link(
                tag: try reader.text("tag"), nanoseconds: Int64(try reader.int("ns")),
                from: try reader.text("old_path"),
                to: try reader.text("new_path"))
        case "D":
            return .delete(
                tag: try reader.text("tag"), nanoseconds: Int64(try reader.int("ns")), path: try reader.text("path"))
        case "T":
            return .truncate(
                tag: try reader.text("tag"), nanoseconds: Int64(try reader.int("ns")), path: try reader.text("path"),
                length: Int64(try reader.int("length")))
        case "X":
            let tag = try reader.text("tag")
            let ns = Int64(try reader.int("ns"))
            let path = try reader.text("path")
            return .exec(tag: tag, nanoseconds: ns, path: path, arguments: try reader.remainingTexts())
        case "P":
            return .spawn(
                tag: try reader.text("tag"), nanoseconds: Int64(try reader.int("ns")),
                childPID: try reader.int32("child_pid"))
        case "W":
            return .warning(
                tag: try reader.text("tag"), nanoseconds: Int64(try reader.int("ns")), kind: try reader.text("kind"),
                detail: reader.isAtEnd ? "" : try reader.text("detail"))
        case "E":
            return .event(
                tag: try reader.text("tag"), nanoseconds: Int64(try reader.int("ns")), json: try reader.text("json"))
        case "C":
            let ns = Int64(try reader.int("ns"))
            var counters: [String: Int] = [:]
            for pair in try reader.remainingTexts() {
                guard let equals = pair.firstIndex(of: "="), let value = Int(pair[pair.index(after: equals)...]) else {
                    throw LineError(reason: "coverage counter '\(pair)' is not key=number")
                }
                counters[String(pair[..<equals])] = value
            }
            return .coverage(nanoseconds: ns, counters: counters)
        case "Z":
            return .exit(nanoseconds: Int64(try reader.int("ns")))
        default:
            throw LineError(reason: "unknown record type '\(type)'")
        }
    }

    /// Walks the fields of one line, decoding `%XX` escapes.
    struct FieldReader {
        var fields: [ArraySlice<UInt8>]
        var index = 0

        var isAtEnd: Bool { index >= fields.count }

        mutating func raw(_ name: String) throws(LineError) -> [UInt8] {
            guard index < fields.count else { throw LineError(reason: "field '\(name)' missing") }
            defer { index += 1 }
            return try SpoolEscaping.unescape(fields[index], field: name)
        }

        mutating func text(_ name: String) throws(LineError) -> String {
            SpoolEscaping.string(fromPathBytes: try raw(name))
        }

        mutating func int(_ name: String) throws(LineError) -> Int {
            let text = try text(name)
            guard let value = Int(text) else { throw LineError(reason: "field '\(name)' is not a number: '\(text)'") }
            return value
        }

        /// A process id: a number that fits in 32 bits (a larger one is a damaged line, not a trap).
        mutating func int32(_ name: String) throws(LineError) -> Int32 {
            let value = try int(name)
            guard let narrow = Int32(exactly: value) else {
                throw LineError(reason: "field '\(name)' is out of range for a process id: \(value)")
            }
            return narrow
        }

        mutating func unsigned(_ name: String) throws(LineError) -> UInt64 {
            let text = try text(name)
            guard let value = UInt64(text) else {
                throw LineError(reason: "field '\(name)' is not a number: '\(text)'")
            }
            return value
        }

        mutating func remainingTexts() throws(LineError) -> [String] {
            var texts: [String] = []
            while !isAtEnd { texts.append(try text("argument \(texts.count)")) }
            return texts
        }
    }
}

/// A line of a spool file that could not be used.
public struct SpoolProblem: Hashable, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        /// The last line was cut short (the writer died mid-write).
        case truncated
        /// A line that does not decode.
        case corrupt
    }

    public var file: String
    public var line: Int
    public var kind: Kind
    public var detail: String

    public init(file: String, line: Int, kind: Kind, detail: String) {
        self.file = file
        self.line = line
        self.kind = kind
        self.detail = detail
    }

    public var description: String { "\(file):\(line): \(kind.rawValue) spool record skipped: \(detail)" }
}

/// The `%XX` escaping of spool fields, and how raw path bytes become Swift strings.
public enum SpoolEscaping {
    static func unescape(_ field: ArraySlice<UInt8>, field name: String) throws(SpoolReader.LineError) -> [UInt8] {
        guard field.contains(UInt8(ascii: "%")) else { return Array(field) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(field.count)
        var index = field.startIndex
        while index < field.endIndex {
            let byte = field[index]
            if byte == UInt8(ascii: "%") {
                guard index + 2 < field.endIndex, let high = hexValue(field[index + 1]),
                    let low = hexValue(field[index + 2])
                else {
                    throw SpoolReader.LineError(reason: "bad %-escape in field '\(name)'")
                }
                bytes.append(high << 4 | low)
                index += 3
            } else {
                bytes.append(byte)
                index += 1
            }
        }
        return bytes
    }

    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        default: nil
        }
    }

    /// Paths are bytes on Linux. Valid UTF-8 becomes the string it spells; otherwise each byte
    /// that is not ASCII is written `\xNN`, so the path stays printable and distinct.
    public static func string(fromPathBytes bytes: [UInt8]) -> String {
        if let text = String(validating: bytes, as: UTF8.self) { return text }
        var text = ""
        for byte in bytes {
            if byte < 0x80 {
                text.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                text += "\\x" + String(byte, radix: 16, uppercase: false).leftPadded(to: 2)
            }
        }
        return text
    }

    /// Escapes one field for writing (used by tests and by roar's own spool writers).
    public static func escape(_ bytes: some Sequence<UInt8>) -> [UInt8] {
        var output: [UInt8] = []
        for byte in bytes {
            if byte < 0x20 || byte == 0x7F || byte == UInt8(ascii: "%") {
                let digits = Array("0123456789ABCDEF".utf8)
                output += [UInt8(ascii: "%"), digits[Int(byte >> 4)], digits[Int(byte & 0xF)]]
            } else {
                output.append(byte)
            }
        }
        return output
    }
}

extension String {
    func leftPadded(to width: Int, with pad: Character = "0") -> String {
        count >= width ? self : String(repeating: pad, count: width - count) + self
    }
}
