import Testing

@testable import RoarCore

@Suite("Spool reader")
struct SpoolReaderTests {
    static let header = "H\t1\t100\t1\t1700000000000000000\t/usr/bin/cat\t/work\n"

    func parse(_ text: String) -> SpoolReader.Contents {
        SpoolReader.parse(Array(text.utf8), file: "test.spool")
    }

    @Test func decodesAFileRecord() throws {
        let digest = String(repeating: "ab", count: 32)
        let contents = parse(
            Self.header
                + "F\tray:t1:0\t10\t20\tw\t0\t5\t2049\t77\t5\t123456789\tblake3:\(digest)\t/work/out%09file.txt\n")
        #expect(contents.problems.isEmpty)
        #expect(contents.header?.pid == 100)
        let records = contents.records.compactMap { record -> FileAccess? in
            if case .file(let access) = record { return access }
            return nil
        }
        let access = try #require(records.first)
        #expect(access.tag == "ray:t1:0")
        #expect(access.path == "/work/out\tfile.txt")
        #expect(access.isWrite && !access.isRead)
        #expect(access.bytesWritten == 5)
        #expect(access.version == FileVersion(device: 2049, inode: 77, size: 5, modifiedNanoseconds: 123_456_789))
        #expect(access.hash?.algorithm == "blake3")
        #expect(access.hash?.digest == digest)
    }

    @Test func keepsNewlinesAndNonUTF8BytesInPaths() throws {
        var bytes = Array(Self.header.utf8)
        bytes += Array("D\t\t5\t/work/a%0Ab".utf8) + [0xFF, 0x41] + Array("\n".utf8)
        let contents = SpoolReader.parse(bytes, file: "x.spool")
        #expect(contents.problems.isEmpty)
        guard case .delete(_, _, let path) = contents.records.last else {
            Issue.record("expected a delete record")
            return
        }
        #expect(path == "/work/a\nb\\xffA")
    }

    @Test func skipsATruncatedLastLineAndKeepsTheRest() {
        let contents = parse(Self.header + "D\t\t5\t/work/a\n" + "F\t\t1\t2\tw\t0\t3")
        #expect(contents.records.count == 2)
        #expect(contents.problems.count == 1)
        #expect(contents.problems.first?.kind == .truncated)
        #expect(contents.problems.first?.line == 3)
    }

    @Test func reportsACorruptLineByFileAndLine() {
        let contents = parse(Self.header + "F\tnot-enough-fields\n" + "Q\tmystery\n" + "D\t\t5\t/work/kept\n")
        #expect(contents.records.count == 2)
        #expect(contents.problems.map(\.line) == [2, 3])
        #expect(contents.problems.allSatisfy { $0.kind == .corrupt })
        #expect(contents.problems[0].description.contains("test.spool:2"))
    }

    @Test func rejectsBadEscapes() {
        let contents = parse(Self.header + "D\t\t5\t/work/%G1\n")
        #expect(contents.problems.count == 1)
    }

    @Test func escapingRoundTrips() throws {
        let original: [UInt8] = Array("/a b\t%c\n".utf8) + [0x00, 0x7F, 0xC3, 0xA9]
        let escaped = SpoolEscaping.escape(original)
        #expect(!escaped.contains(UInt8(ascii: "\t")) && !escaped.contains(UInt8(ascii: "\n")))
        #expect(try SpoolEscaping.unescape(escaped[...], field: "x") == original)
    }

    @Test func decodesCoverageAndExec() {
        let contents = parse(
            Self.header + "C\t9\tevents=10\tlost=2\n" + "X\tt\t9\t/bin/sh\tsh\t-c\techo hi\n" + "Z\t10\n")
        #expect(contents.problems.isEmpty)
        #expect(contents.records.contains(.coverage(nanoseconds: 9, counters: ["events": 10, "lost": 2])))
        #expect(
            contents.records.contains(
                .exec(tag: "t", nanoseconds: 9, path: "/bin/sh", arguments: ["sh", "-c", "echo hi"])))
        #expect(contents.records.contains(.exit(nanoseconds: 10)))
    }
}

@Suite("Path filter")
struct PathFilterTests {
    @Test func recordsTheProjectEvenUnderTmp() {
        let filter = PathFilter(projectDirectory: "/tmp/proj")
        #expect(filter.isRecorded("/tmp/proj/data.csv"))
        #expect(!filter.isRecorded("/tmp/other.csv"))
        #expect(!filter.isRecorded("/tmp/proj/.roar/roar.db"))
        #expect(!filter.isRecorded("/tmp/proj/.git/HEAD"))
        #expect(!filter.isRecorded("/tmp/proj/pkg/__pycache__/m.cpython-311.pyc"))
    }

    @Test(arguments: [
        "/proc/self/maps", "/sys/fs/x", "/dev/null", "/etc/passwd", "/usr/lib/python3.11/os.py",
        "/home/u/.venv/lib/python3.11/site-packages/numpy/__init__.py",
        "/root/.pyenv/versions/3.11.7/lib/python3.11/json/decoder.py",
    ])
    func ignoresSystemAndInterpreterFiles(path: String) {
        #expect(!PathFilter(projectDirectory: "/home/u/proj").isRecorded(path))
    }

    @Test func honoursExtraPrefixes() {
        let filter = PathFilter(
            projectDirectory: "/w/proj", ignoreTemporary: false, extraIgnored: ["/w/proj/scratch"],
            extraIncluded: ["/data"])
        #expect(filter.isRecorded("/tmp/x"))
        #expect(filter.isRecorded("/data/in.csv"))
        #expect(filter.isRecorded("/w/proj/a"))
        #expect(!filter.isRecorded("/w/proj/scratch/tmp.bin"))
        #expect(filter.ignoreEnvironmentValue.contains("/w/proj/scratch"))
    }
}
