import ArgumentParser
import RoarHash

#if canImport(Glibc)
    import Glibc
#endif

struct Hash: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print BLAKE3 (or SHA-256) digests of files, like b3sum.",
        discussion: """
            Output lines are `<hex>  <path>`, the format of b3sum and sha256sum, so their --check \
            reads them too. `-` reads standard input. Large files are hashed on all cores.

              roar hash data/*.parquet > digests.txt
              roar hash --check digests.txt
            """)

    @Flag(name: .customLong("sha256"), help: "SHA-256 instead of BLAKE3.")
    var usesSHA256 = false

    @Flag(name: .shortAndLong, help: "Read digest lists (from roar hash or b3sum) and verify the files they name.")
    var check = false

    @Option(help: "Threads to use: 0 = all cores (default), 1 = this thread only.")
    var threads: Int = 0

    @Argument(help: "Files to hash (or, with --check, digest lists). `-` is standard input.")
    var paths: [String] = ["-"]

    func validate() throws {
        guard threads >= 0 else { throw ValidationError("--threads must be 0 (automatic) or more") }
    }

    func run() throws {
        let status = Self.execute(paths: paths, sha256: usesSHA256, check: check, threads: threads)
        if status != 0 { throw ExitCode(status) }
    }

    /// Runs the hash tool with the listing written to standard output in 64 KiB writes.
    static func execute(paths: [String], sha256: Bool, check: Bool, threads: Int) -> Int32 {
        let request = HashRequest(
            paths: paths, algorithm: sha256 ? .sha256 : .blake3, isChecking: check, threads: threads,
            showsProgress: isatty(2) == 1)
        let output = OutputBuffer()
        let status = HashTool.run(
            request, write: { output.append($0) },
            diagnostics: { line in
                let text = line.hasPrefix("\r") ? line : line + "\n"
                _ = text.withCString { write(2, $0, strlen($0)) }
            })
        output.flush()
        return status
    }

    /// `roar hash` arguments parsed without ArgumentParser, which takes time quadratic in the number of values of
    /// an array argument (`xargs roar hash` passes ~17k paths per call: about 15 s each there, against a few
    /// milliseconds here). Only a command line made of exactly what `Hash` declares (`--sha256`, `-c`/`--check`,
    /// `--threads N`/`--threads=N` with N >= 0, `--`, `-` and paths not starting with `-`) is taken; anything else
    /// (help, unknown options, bad values) returns nil and goes through ArgumentParser, with its messages.
    static func fastArguments(_ arguments: ArraySlice<String>) -> (
        paths: [String], sha256: Bool, check: Bool,
        threads: Int
    )? {
        var paths = [String]()
        paths.reserveCapacity(arguments.count)
        var sha256 = false
        var check = false
        var threads = 0
        var rest = arguments
        var afterTerminator = false
        while let argument = rest.popFirst() {
            if afterTerminator || argument == "-" || !argument.hasPrefix("-") {
                paths.append(argument)
                continue
            }
            switch argument {
            case "--": afterTerminator = true
            case "--sha256": sha256 = true
            case "-c", "--check": check = true
            case "--threads":
                guard let value = rest.popFirst().flatMap({ Int($0) }), value >= 0 else { return nil }
                threads = value
            default:
                guard argument.hasPrefix("--threads="), let value = Int(argument.dropFirst(10)), value >= 0 else {
                    return nil
                }
                threads = value
            }
        }
        return (paths.isEmpty ? ["-"] : paths, sha256, check, threads)
    }
}

/// Standard output in 64 KiB writes.
private final class OutputBuffer {
    private var pending = [UInt8]()

    init() {
        pending.reserveCapacity(1 << 17)
    }

    func append(_ bytes: UnsafeRawBufferPointer) {
        if pending.count + bytes.count > 1 << 16 {
            flush()
        }
        if bytes.count >= 1 << 16 {
            Self.writeAll(bytes)
        } else {
            pending.append(contentsOf: bytes)
        }
    }

    func flush() {
        pending.withUnsafeBytes { Self.writeAll($0) }
        pending.removeAll(keepingCapacity: true)
    }

    private static func writeAll(_ bytes: UnsafeRawBufferPointer) {
        var offset = 0
        while offset < bytes.count {
            let written = write(1, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0 && errno == EINTR { continue }
            if written <= 0 { return }
            offset += written
        }
    }
}
