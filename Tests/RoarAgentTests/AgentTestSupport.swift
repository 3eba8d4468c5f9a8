import Foundation
import RoarCore
import RoarTransport
import Synchronization
import Testing

@testable import RoarAgent

/// A scratch folder with a spool, an outbox and files tasks read, removed at deinit.
final class Scratch {
    let root: String
    var spool: String { root + "/spool" }
    var outbox: String { root + "/agent/outbox" }

    init() {
        var template = Array("/tmp/roar-agent-tests-XXXXXX".utf8CString)
        root = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
        try! FileManager.default.createDirectory(atPath: spool, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: root) }

    /// Writes a file (creating folders) and returns its path.
    @discardableResult
    func write(_ text: String, to relative: String) -> String {
        let path = root + "/" + relative
        try! FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
        return path
    }

    func append(_ text: String, toSpool name: String) {
        let path = spool + "/" + name
        try! FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        if !FileManager.default.fileExists(atPath: path) { FileManager.default.createFile(atPath: path, contents: nil) }
        let handle = FileHandle(forWritingAtPath: path)!
        handle.seekToEndOfFile()
        handle.write(Data(text.utf8))
        handle.closeFile()
    }

    func spoolBytes(_ name: String) -> [UInt8] {
        Array(FileManager.default.contents(atPath: spool + "/" + name) ?? Data())
    }

    func outboxFiles() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: outbox)) ?? []).filter { $0.hasSuffix(".rbat") }.sorted()
    }
}

/// Spool lines in the format of docs/spool-format.md, as the preload library writes them.
enum SpoolLine {
    static let clock = Atomic<Int64>(1_795_000_000_000_000_000)

    static func now() -> Int64 {
        clock.add(1000, ordering: .relaxed).newValue
    }

    static func header(pid: Int32 = 4242) -> String {
        "H\t1\t\(pid)\t1\t\(now())\t/usr/bin/python3\t/tmp/ray/session_1/runtime_resources/working_dir_files/_ray_pkg_abc\n"
    }

    static func version(of path: String) -> FileVersion {
        FileSystem.version(ofFileAt: path)!
    }

    static func read(_ path: String, tag: String = "ray:t1:0", version: FileVersion? = nil) -> String {
        let v = version ?? Self.version(of: path)
        return
            "F\t\(tag)\t\(now())\t\(now())\tr\t\(v.size)\t0\t\(v.device)\t\(v.inode)\t\(v.size)\t\(v.modifiedNanoseconds)\t-\t\(path)\n"
    }

    /// A write; `digest: nil` is one whose digest could not be finished (hash `-`, a `rehash-failed`).
    static func write(_ path: String, tag: String = "ray:t1:0", digest: String?) -> String {
        let v = version(of: path)
        let hash = digest.map { "blake3:" + $0 } ?? "-"
        return
            "F\t\(tag)\t\(now())\t\(now())\twct\t0\t\(v.size)\t\(v.device)\t\(v.inode)\t\(v.size)\t\(v.modifiedNanoseconds)\t\(hash)\t\(path)\n"
    }

    static func openForWrite(_ path: String, tag: String = "ray:t1:0") -> String {
        "O\t\(tag)\t\(now())\twc\t\(path)\n"
    }

    static func truncate(_ path: String, tag: String = "ray:t1:0") -> String {
        "T\t\(tag)\t\(now())\t\(path)\t0\n"
    }

    static func rename(_ from: String, _ to: String, tag: String = "ray:t1:0") -> String {
        "M\t\(tag)\t\(now())\t\(from)\t\(to)\n"
    }

    static func event(_ json: String, tag: String = "ray:t1:0") -> String {
        "E\t\(tag)\t\(now())\t\(json)\n"
    }

    static func exit() -> String { "Z\t\(now())\n" }
}

/// What the host would do: open every batch in the outbox and put the spool files back together.
struct Host {
    let keyPair: RunKeyPair
    let session: String

    struct Received {
        var batches: [OpenedSegmentBatch] = []
        var files: [String: [UInt8]] = [:]
        var readDigests: [SegmentBatch.FileDigest] { batches.flatMap(\.batch.readDigests) }
        var currentDigests: [SegmentBatch.FileDigest] { batches.flatMap(\.batch.currentDigests) }
    }

    func receive(from outbox: String, files names: [String], into received: inout Received) throws {
        for name in names {
            let bytes = Array(FileManager.default.contents(atPath: outbox + "/" + name)!)
            let opened = try BatchOpener(keyPair: keyPair, expectedSessionID: session).open(bytes)
            for segment in opened.batch.segments {
                #expect(segment.data.last == UInt8(ascii: "\n"), "segments carry only complete lines")
                var file = received.files[segment.file] ?? []
                let end = Int(segment.offset) + segment.data.count
                if file.count < end { file += [UInt8](repeating: 0, count: end - file.count) }
                file.replaceSubrange(Int(segment.offset)..<end, with: segment.data)
                received.files[segment.file] = file
            }
            received.batches.append(opened)
        }
    }
}

/// The digest `b3sum` prints for a file: the reference the agent's digests must equal.
func b3sum(_ path: String) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["b3sum", "--no-names", path]
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let output = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return String(decoding: output, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
}

/// Collects what the shipper logs.
final class LogLines: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: [String] = []
    var lines: [String] { lock.withLock { stored } }
    func append(_ line: String) { lock.withLock { stored.append(line) } }
}
