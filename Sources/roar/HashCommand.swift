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
        let request = HashRequest(
            paths: paths, algorithm: usesSHA256 ? .sha256 : .blake3, isChecking: check, threads: threads,
            showsProgress: isatty(2) == 1)
        let status = HashTool.run(
            request, output: { print($0) },
            diagnostics: { line in
                let text = line.hasPrefix("\r") ? line : line + "\n"
                _ = text.withCString { write(2, $0, strlen($0)) }
            })
        if status != 0 { throw ExitCode(status) }
    }
}
