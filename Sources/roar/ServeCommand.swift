import ArgumentParser
import Foundation
import Logging
import RoarServer
import RoarServerClient

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the lineage server, where a team's lineage meets (docs/server.md).",
        discussion: """
            A first server, on this machine:

              roar serve token create alice --writer myproject     prints a token (keep it)
              roar serve --port 8377                               serves http://127.0.0.1:8377
              roar login http://127.0.0.1:8377                     (in a project) paste the token
              roar register                                        publishes the project's lineage

            The API is docs/server-api.md (GET /api/v1/openapi.json); /healthz and /metrics \
            (Prometheus) need no token.
            """,
        subcommands: [ServeStart.self, ServeToken.self],
        defaultSubcommand: ServeStart.self)
}

/// Where the server keeps lineage and tokens: a PostgreSQL database (`--database`), else the
/// SQLite file `lineage.db` in `--data` (default `$XDG_DATA_HOME/roar/server`).
struct ServerDataOptions: ParsableArguments {
    @Option(name: .customLong("data"), help: "The server's data folder (default: ~/.local/share/roar/server).")
    var dataDirectory: String?

    @Option(
        help: ArgumentHelp(
            "A PostgreSQL database instead of the SQLite file in --data: postgres://USER[:PASSWORD]@HOST[:PORT]/DB.",
            discussion: "ROAR_SERVER_DATABASE works too (keeps a password off the command line)."))
    var database: String?

    func storage() throws -> any LineageStorage {
        let environment = Environment.current
        if let url = database ?? environment["ROAR_SERVER_DATABASE"].flatMap({ $0.isEmpty ? nil : $0 }) {
            do {
                return try PostgresLineageStorage(url: url)
            } catch {
                throw Failure(error.message)
            }
        }
        let directory =
            dataDirectory
            ?? (environment["XDG_DATA_HOME"].flatMap { $0.isEmpty ? nil : $0 }
                ?? (environment["HOME"] ?? ".") + "/.local/share") + "/roar/server"
        do {
            try FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw Failure("cannot create the server's data folder \(directory): \(error.localizedDescription)")
        }
        do {
            return try SQLiteLineageStorage(path: directory + "/lineage.db")
        } catch {
            throw Failure(error.message)
        }
    }
}

struct ServeStart: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "start", abstract: "Serve the API (the default of `roar serve`). SIGTERM or Ctrl-C stops it.")

    @OptionGroup var data: ServerDataOptions

    @Option(help: "Address to bind. 127.0.0.1 (this machine only) unless you mean otherwise.")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on; 0 picks a free one (printed).")
    var port = 8377

    @Option(name: .customLong("tls-cert"), help: "PEM certificate chain: serve HTTPS (with --tls-key).")
    var tlsCertificate: String?

    @Option(name: .customLong("tls-key"), help: "PEM private key of --tls-cert.")
    var tlsKey: String?

    @Option(name: .customLong("max-body-mib"), help: "Largest request body accepted (413 above it).")
    var maximumBodyMiB = 32

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel = "info"

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be from 0 to 65535") }
        guard maximumBodyMiB >= 1 else { throw ValidationError("--max-body-mib must be at least 1") }
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
    }

    func run() throws {
        let storage = try data.storage()
        var configuration = LineageServer.Configuration()
        configuration.host = host
        configuration.port = port
        configuration.tlsCertificatePath = tlsCertificate
        configuration.tlsKeyPath = tlsKey
        configuration.maximumBodyBytes = maximumBodyMiB << 20
        let metrics = LineageServer.bootstrapLoggingAndMetrics(logLevel: Logger.Level(rawValue: logLevel) ?? .info)
        let scheme = tlsCertificate == nil ? "http" : "https"
        let shownHost = host
        let location = storage.description
        let settings = configuration
        try runBlocking {
            try await LineageServer.run(
                storage: storage, metrics: metrics, configuration: settings, logger: Logger(label: "roar.serve"),
                onListening: { port in
                    // Unbuffered: scripts and tests wait for this line to know the port.
                    FileHandle.standardOutput.write(
                        Data("roar serve: listening on \(scheme)://\(shownHost):\(port) (data: \(location))\n".utf8))
                })
        }
    }
}

struct ServeToken: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token", abstract: "Tokens for the server's users.", subcommands: [ServeTokenCreate.self])
}

struct ServeTokenCreate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Make a bearer token and print it (only its SHA-256 is stored: it cannot be shown again).",
        discussion: """
            --writer P may register into project P and read it; --reader P may only read it; \
            --admin reads and writes every project. Run it where the server's --data folder is \
            (the server may be running).
            """)

    @Argument(help: "Who the token is for (shown in the server's answers, e.g. alice).")
    var name: String

    @Option(name: .customLong("writer"), help: "A project this token may register into (repeatable).")
    var writerProjects: [String] = []

    @Option(name: .customLong("reader"), help: "A project this token may read (repeatable).")
    var readerProjects: [String] = []

    @Flag(help: "Read and write every project.")
    var admin = false

    @OptionGroup var data: ServerDataOptions

    func validate() throws {
        for project in writerProjects + readerProjects where !ProjectName.isValid(project) {
            throw ValidationError("project \"\(project)\": use 1 to 128 of A-Z a-z 0-9 _ . - (not starting with .)")
        }
        if !admin && writerProjects.isEmpty && readerProjects.isEmpty {
            throw ValidationError("give --writer P, --reader P or --admin: a token with no project can do nothing")
        }
    }

    func run() throws {
        let storage = try data.storage()
        var grants: [String: ProjectRole] = [:]
        for project in readerProjects { grants[project] = .reader }
        for project in writerProjects { grants[project] = .writer }
        let token = AccessToken.generate()
        let (name, admin) = (self.name, self.admin)
        let frozen = grants
        try runBlocking {
            try await storage.migrate()
            try await storage.createToken(
                name: name, digest: AccessToken.digest(of: token), isAdmin: admin, grants: frozen)
        }
        print(token)
        FileHandle.standardError.write(
            Data(
                "roar: token for \(name) made; give it to `roar login URL` (or ROAR_TOKEN). It is not shown again.\n"
                    .utf8))
    }
}
