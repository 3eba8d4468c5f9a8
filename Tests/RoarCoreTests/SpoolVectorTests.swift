import Foundation
import Testing

@testable import RoarCore

/// The shared spool vectors (`Tests/vectors/spool/`, `Tests/vectors/README.md`), also checked by
/// `python/tests/test_shared_vectors.py`: the bytes of a spool file and what a reader must make of them.
@Suite("Shared spool vectors")
struct SpoolVectorTests {
    static let directory = URL(filePath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appending(path: "vectors/spool")

    struct Expected: Decodable {
        var file: String
        var records: [[String: JSONValue]]
        var problems: [Problem]

        struct Problem: Decodable, Equatable {
            var line: Int
            var kind: String
        }
    }

    struct Events: Decodable {
        var events: [Event]

        struct Event: Decodable {
            var tag: String
            var ns: Int64
            var json: String
            var line: String
        }
    }

    static func load<T: Decodable>(_ type: T.Type, _ name: String) throws -> T {
        try JSONDecoder().decode(type, from: Data(contentsOf: directory.appending(path: name)))
    }

    @Test func recordsDecodeAsTheVectorSays() throws {
        let expected = try Self.load(Expected.self, "records.json")
        let bytes = Array(try Data(contentsOf: Self.directory.appending(path: expected.file)))
        let contents = SpoolReader.parse(bytes, file: expected.file)
        #expect(contents.problems.map { Expected.Problem(line: $0.line, kind: $0.kind.rawValue) } == expected.problems)
        #expect(contents.records.count == expected.records.count)
        for (record, wanted) in zip(contents.records, expected.records) {
            var fields = try Self.fields(of: record)
            fields["line"] = wanted["line"]
            #expect(fields == wanted)
        }
        #expect(contents.header?.pid == 4242)
    }

    @Test func eventLinesDecodeToTheirTagTimeAndJSON() throws {
        for event in try Self.load(Events.self, "events.json").events {
            let contents = SpoolReader.parse(Array(event.line.utf8), file: "events.json")
            #expect(contents.problems.isEmpty || contents.problems.allSatisfy { $0.detail.contains("no H header") })
            #expect(contents.records == [.event(tag: event.tag, nanoseconds: event.ns, json: event.json)])
        }
    }

    /// A record as the vector writes it: the spec's field names, `event` for what an `E` record's JSON decodes to.
    static func fields(of record: SpoolRecord) throws -> [String: JSONValue] {
        func int(_ value: some BinaryInteger) -> JSONValue { .integer(Int64(value)) }
        switch record {
        case .header(let header):
            return [
                "type": "H", "version": int(header.version), "pid": int(header.pid), "ppid": int(header.parentPID),
                "start_ns": int(header.startNanoseconds), "exe": .string(header.executable), "cwd": .string(header.cwd),
            ]
        case .file(let access):
            return [
                "type": "F", "tag": .string(access.tag), "open_ns": int(access.openedNanoseconds),
                "close_ns": int(access.closedNanoseconds), "mode": .string(access.mode),
                "bytes_read": int(access.bytesRead), "bytes_written": int(access.bytesWritten),
                "dev": int(access.version.device), "ino": int(access.version.inode), "size": int(access.version.size),
                "mtime_ns": int(access.version.modifiedNanoseconds),
                "hash": .string(access.hash.map { "\($0.algorithm):\($0.digest)" } ?? "-"),
                "path": .string(access.path),
            ]
        case .openForWrite(let tag, let ns, let mode, let path):
            return ["type": "O", "tag": .string(tag), "ns": int(ns), "mode": .string(mode), "path": .string(path)]
        case .rename(let tag, let ns, let from, let to):
            return [
                "type": "M", "tag": .string(tag), "ns": int(ns), "old_path": .string(from), "new_path": .string(to),
            ]
        case .link(let tag, let ns, let from, let to):
            return [
                "type": "L", "tag": .string(tag), "ns": int(ns), "old_path": .string(from), "new_path": .string(to),
            ]
        case .delete(let tag, let ns, let path):
            return ["type": "D", "tag": .string(tag), "ns": int(ns), "path": .string(path)]
        case .truncate(let tag, let ns, let path, let length):
            return ["type": "T", "tag": .string(tag), "ns": int(ns), "path": .string(path), "length": int(length)]
        case .exec(let tag, let ns, let path, let arguments):
            return [
                "type": "X", "tag": .string(tag), "ns": int(ns), "path": .string(path),
                "argv": .array(arguments.map(JSONValue.string)),
            ]
        case .spawn(let tag, let ns, let child):
            return ["type": "P", "tag": .string(tag), "ns": int(ns), "child_pid": int(child)]
        case .warning(let tag, let ns, let kind, let detail):
            return ["type": "W", "tag": .string(tag), "ns": int(ns), "kind": .string(kind), "detail": .string(detail)]
        case .event(let tag, let ns, let json):
            let event = try RayTaskEvent.decode(json: json)
            let decoded = try event.map { try JSONDecoder().decode(JSONValue.self, from: JSONEncoder().encode($0)) }
            return [
                "type": "E", "tag": .string(tag), "ns": int(ns), "json": .string(json), "event": decoded ?? .null,
            ]
        case .coverage(let ns, let counters):
            return ["type": "C", "ns": int(ns), "counters": .object(counters.mapValues { int($0) })]
        case .exit(let ns):
            return ["type": "Z", "ns": int(ns)]
        }
    }
}

extension JSONValue: ExpressibleByStringLiteral {
    init(stringLiteral value: String) { self = .string(value) }
}
