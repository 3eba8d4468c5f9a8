// roar-agent: the node agent's command line (`roar-agent ship`); the work is RoarAgent's.

import ArgumentParser
import RoarAgent
import RoarCore
import RoarTransport

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// `roar-agent`: runs on each node of a Ray cluster (host-submit, docs/agent.md).
struct RoarAgentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "roar-agent",
        abstract: "roar's node agent: ships a cluster node's spool to the host as sealed batches.",
        discussion: """
            Started by roar's node actor on every node of a Ray cluster the host submitted to; \
            not meant to be run by hand. See docs/agent.md.
            """,
        subcommands: [Ship.self])
}

struct Ship: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Ship the new complete lines of every spool file, and digests of the files tasks read.",
        discussion: """
            Every --interval seconds, reads what was appended to each *.spool file under --spool, \
            hashes (BLAKE3) the files tasks read whose host path is lineage, seals the result to the \
            run's public key (\(RunPublicKey.environmentVariable), base64) and writes it as \
            <outbox>/<producer>-<seq>.rbat. On SIGTERM or SIGINT: finishes the round, ships a final \
            batch (with the current digests of files written but never closed), exits 0.
            """)

    @Option(help: "The node's spool directory (where ROAR_SPOOL points on this node).")
    var spool: String

    @Option(help: "Folder for sealed batches; the forwarder takes *.rbat files from it.")
    var outbox: String

    @Option(help: "This agent's name in batch headers and file names, e.g. node-<ray node id>.")
    var producer: String

    @Option(help: "The run id (session) the batches belong to.")
    var session: String

    @Option(help: "Seconds between rounds.")
    var interval: Double = 2.0

    @Flag(help: "Run one final round, then exit.")
    var once = false

    @Option(
        name: .customLong("path-map"),
        help: ArgumentHelp(
            "How Ray packages on the node map to host folders (JSON).",
            discussion:
                #"{"packages":[{"name":"_ray_pkg_<h>","kind":"working_dir"|"py_modules","host_path":"/abs"}]}"#))
    var pathMap: String?

    @Option(name: .customLong("project-dir"), help: "The host project folder (recorded even under /tmp).")
    var projectDirectory: String?

    @Option(help: "More host path prefixes that are not lineage, ':'-separated.")
    var ignore: String?

    @Option(help: "Host path prefixes that are lineage even under an ignored prefix, ':'-separated.")
    var include: String?

    @Flag(name: .customLong("keep-temporary"), help: "Record /tmp and /var/tmp outside the project too.")
    var keepTemporary = false

    @Option(name: .customLong("max-batch-bytes"), help: "Spool bytes per batch (a longer single line goes alone).")
    var maximumBatchBytes: Int = ShipperConfiguration.defaultMaximumBatchBytes

    @Option(name: .customLong("max-outbox"), help: "Produce nothing while the outbox holds this many batches.")
    var maximumOutbox: Int = ShipperConfiguration.defaultMaximumOutboxFiles

    @Option(help: "State file (next seq, shipped offsets); default <outbox>/../<producer>.state.")
    var state: String?

    func validate() throws {
        guard interval > 0, interval.isFinite else {
            throw ValidationError("--interval must be a positive number of seconds")
        }
        guard maximumBatchBytes > 0 else { throw ValidationError("--max-batch-bytes must be positive") }
        guard maximumOutbox > 0 else { throw ValidationError("--max-outbox must be positive") }
        guard !producer.isEmpty, !producer.contains("/"), producer.utf8.count <= 200 else {
            throw ValidationError("--producer must be 1 to 200 bytes without '/' (it names the outbox files)")
        }
        guard !session.isEmpty, session.utf8.count <= 1024 else {
            throw ValidationError("--session must be 1 to 1024 bytes")
        }
        if let projectDirectory, !projectDirectory.hasPrefix("/") {
            throw ValidationError("--project-dir must be an absolute host path, got '\(projectDirectory)'")
        }
    }

    func run() throws {
        nice(10)  // the node's cores belong to the tasks
        let recipient: RunPublicKey
        do {
            recipient = try RunPublicKey(environment: Self.environment(RunPublicKey.environmentVariable))
        } catch {
            let variable = RunPublicKey.environmentVariable
            throw UsageFailure(
                message: error.detail.contains(variable)
                    ? error.detail : "\(variable) is not a usable key: \(error.detail)")
        }
        var restorer: PathRestorer?
        if let pathMap {
            do {
                restorer = try JSONDecoder().decode(PathRestorer.self, from: Data(pathMap.utf8))
            } catch {
                throw UsageFailure(
                    message:
                        #"--path-map is not {"packages":[{"name":…,"kind":"working_dir"|"py_modules","host_path":…}]}: \#(error)"#
                )
            }
        }
        let split: (String?) -> [String] = { $0?.split(separator: ":").map(String.init) ?? [] }
        let filter = PathFilter(
            projectDirectory: projectDirectory ?? "/", ignoreTemporary: !keepTemporary,
            extraIgnored: split(ignore), extraIncluded: split(include))
        let configuration = ShipperConfiguration(
            spoolDirectory: spool, outboxDirectory: outbox, statePath: state, producer: producer, sessionID: session,
            recipient: recipient, pathRestorer: restorer, filter: filter, maximumBatchBytes: maximumBatchBytes,
            maximumOutboxFiles: maximumOutbox, log: { message in Self.printError("roar-agent: \(message)") })

        ShipLoop.blockStopSignals()
        var shipper: Shipper
        do {
            shipper = try Shipper(configuration: configuration)
        } catch {
            throw RuntimeFailure(message: "\(error)")
        }
        let finished = once ? !shipper.runRound(final: true).failed : ShipLoop.run(&shipper, interval: interval)
        guard finished else { throw RuntimeFailure(message: "the final batch could not be written (see above)") }
    }

    static func environment(_ name: String) -> [String: String] {
        guard let value = getenv(name) else { return [:] }
        return [name: String(cString: value)]
    }

    static func printError(_ message: String) {
        let line = Array((message + "\n").utf8)
        _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    }
}

/// A flag or variable found wrong once parsed: exit status 2.
struct UsageFailure: Error {
    var message: String
}

/// A failure after the arguments were accepted: exit status 1.
struct RuntimeFailure: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

// Usage errors exit with 2 (ArgumentParser's default is 64), failures with 1.
do {
    var command = try RoarAgentCommand.parseAsRoot()
    try command.run()
} catch let failure as UsageFailure {
    Ship.printError("roar-agent: \(failure.message)")
    exit(2)
} catch let failure as RuntimeFailure {
    Ship.printError("roar-agent: \(failure.message)")
    exit(1)
} catch {
    let code = RoarAgentCommand.exitCode(for: error)
    if code == .success {
        RoarAgentCommand.exit(withError: error)  // --help: prints to stdout, exits 0
    }
    Ship.printError(RoarAgentCommand.fullMessage(for: error))
    exit(code == .validationFailure ? 2 : code.rawValue)
}
