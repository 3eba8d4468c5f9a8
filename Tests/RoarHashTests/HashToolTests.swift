import Testing

@testable import RoarHash

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

@Suite("roar hash: listing and --check")
struct HashToolTests {
    private func run(_ request: HashRequest) -> (status: Int32, output: [String], diagnostics: [String]) {
        let output = CapturedOutput()
        let diagnostics = CapturedOutput()
        let status = HashTool.run(request, output: { output.append($0) }, diagnostics: { diagnostics.append($0) })
        return (status, output.lines, diagnostics.lines)
    }

    @Test("lines are '<hex>  <path>' in argument order", arguments: HashAlgorithm.allCases)
    func listing(algorithm: HashAlgorithm) {
        let directory = TemporaryDirectory()
        let paths = (0..<300).map { directory.write(KnownDigests.pattern(length: $0 * 37), to: "f\($0)") }
        let result = run(HashRequest(paths: paths, algorithm: algorithm))
        #expect(result.status == 0)
        #expect(result.diagnostics.isEmpty)
        #expect(result.output.count == paths.count)
        for (index, line) in result.output.enumerated() {
            let digest = algorithm.hash(bytes: KnownDigests.pattern(length: index * 37))
            #expect(line == "\(digest.hex)  \(paths[index])")
        }
    }

    @Test("batched hashing of mixed sizes, missing files and directories keeps order", arguments: [0, 1, 2])
    func mixedBatch(threads: Int) {
        let directory = TemporaryDirectory()
        let sizes = [0, 1024, 1025, 4096, 16383, 16384, 16385, 100_000, 3 << 20, 5, 70_000]
        var paths = sizes.enumerated().map {
            directory.write(KnownDigests.pattern(length: $0.element), to: "m\($0.offset)")
        }
        paths.insert("/nonexistent/z", at: 3)
        paths.insert(directory.path, at: 6)
        let result = run(HashRequest(paths: paths, threads: threads))
        #expect(result.status == 1)
        let expected = sizes.enumerated().map {
            "\(BLAKE3Hasher.hash(bytes: KnownDigests.pattern(length: $0.element)).hex)  \(directory.path)/m\($0.offset)"
        }
        #expect(result.output == expected)
        #expect(result.diagnostics.count == 2)
        #expect(result.diagnostics.first?.contains("/nonexistent/z") == true)
        #expect(result.diagnostics.last?.contains("errno \(EISDIR)") == true)
    }

    @Test("--check reports OK and FAILED and exits 1 on a mismatch", arguments: [0, 1])
    func check(threads: Int) {
        let directory = TemporaryDirectory()
        let good = directory.write(KnownDigests.pattern(length: 5000), to: "good")
        let bad = directory.write(KnownDigests.pattern(length: 5000), to: "bad")
        let listing = run(HashRequest(paths: [good, bad], threads: threads)).output
        let list = directory.write(listing.joined(separator: "\n") + "\n", to: "list.b3")
        #expect(
            run(HashRequest(paths: [list], isChecking: true, threads: threads)).output
                == ["\(good): OK", "\(bad): OK"])

        directory.write(KnownDigests.pattern(length: 5001), to: "bad")
        let result = run(HashRequest(paths: [list], isChecking: true, threads: threads))
        #expect(result.status == 1)
        #expect(result.output == ["\(good): OK", "\(bad): FAILED"])
        #expect(result.diagnostics == ["roar hash: WARNING: 1 computed checksum did NOT match"])
    }

    @Test("--check reports a missing file as FAILED with the reason")
    func checkMissing() {
        let directory = TemporaryDirectory()
        let list = directory.write(String(repeating: "0", count: 64) + "  /nonexistent/x\n", to: "list")
        let result = run(HashRequest(paths: [list], isChecking: true))
        #expect(result.status == 1)
        #expect(result.output == ["/nonexistent/x: FAILED (No such file or directory)"])
    }

    @Test("a malformed check list names the list and the line")
    func malformedList() {
        let directory = TemporaryDirectory()
        let list = directory.write("\n" + String(repeating: "a", count: 64) + " one-space\n", to: "list")
        let result = run(HashRequest(paths: [list], isChecking: true))
        #expect(result.status == 1)
        #expect(result.output.isEmpty)
        #expect(result.diagnostics.count == 1)
        #expect(result.diagnostics.first?.contains("'\(list)' line 2") == true)
    }

    @Test("unreadable files are reported and the exit status is 1")
    func unreadable() {
        let result = run(HashRequest(paths: ["/nonexistent/y"]))
        #expect(result.status == 1)
        #expect(result.output.isEmpty)
        #expect(result.diagnostics.first?.hasPrefix("roar hash: cannot open '/nonexistent/y'") == true)
    }

    @Test("paths with backslashes and newlines are escaped and round-trip through --check")
    func escapedPaths() throws {
        let digest = BLAKE3Hasher.hash(bytes: [])
        let line = HashListing.line(for: digest, path: "a\\b\nc")
        #expect(line == "\\" + digest.hex + "  a\\\\b\\nc")
        let entries = try HashListing.entries(in: line + "\n", algorithm: .blake3, listPath: "list")
        #expect(entries == [HashListing.Entry(expected: digest, path: "a\\b\nc", line: 1)])
        #expect(HashListing.checkLine(path: "a\nb", outcome: .matched) == "\\a\\nb: OK")
    }

    @Test("sizes in progress lines")
    func progressSizes() {
        #expect(ProgressReporter.size(512) == "512 B")
        #expect(ProgressReporter.size(3 << 20) == "3.0 MiB")
        #expect(ProgressReporter.size(1_610_612_736) == "1.5 GiB")
    }
}
