import ArgumentParser
import Foundation
import RoarConfig
import RoarCore
import RoarServerClient
import RoarStore

/// The server and token a client command talks to: `--server`, else `glaas.url` (roar.toml or
/// `ROAR_GLAAS_URL`); the token `roar login` stored, or `ROAR_TOKEN`.
struct ServerOptions: ParsableArguments {
    @Option(help: "The lineage server's URL (default: glaas.url of roar.toml, or ROAR_GLAAS_URL).")
    var server: String?

    func url(context: ProjectContext?) throws -> String {
        if let server { return try Self.checked(server) }
        if let configured = try context?.config().glaas.url { return try Self.checked(configured) }
        throw ValidationError(
            "no lineage server: give --server URL, or set it once with `roar config set glaas.url URL`")
    }

    static func checked(_ url: String) throws -> String {
        guard let parsed = URL(string: url), ["http", "https"].contains(parsed.scheme ?? ""), parsed.host != nil else {
            throw ValidationError("\(url) is not an http or https URL")
        }
        return url.hasSuffix("/") ? String(url.dropLast()) : url
    }

    func client(context: ProjectContext?) throws -> LineageServerClient {
        let url = try url(context: context)
        let environment = Environment.current
        let credentials: ServerCredentials
        do {
            credentials = try ServerCredentials.load(environment: environment)
        } catch {
            throw Failure(error.message)
        }
        guard let token = credentials.token(for: url, environment: environment) else {
            throw Failure("no token for \(url): run `roar login \(url)` (or set ROAR_TOKEN)")
        }
        return LineageServerClient(server: url, token: token)
    }
}

struct Login: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Store a token for a lineage server (checked with the server first).",
        discussion: """
            The token (from `roar serve token create`) is read from --token, else from standard \
            input, and kept in ~/.config/roar/credentials.json (mode 0600; ROAR_CREDENTIALS moves \
            it), never in the project.
            """)

    @Argument(help: "The server's URL, e.g. http://127.0.0.1:8377.")
    var server: String

    @Option(help: "The token (else it is read from standard input).")
    var token: String?

    func run() throws {
        let url = try ServerOptions.checked(server)
        let given: String
        if let token {
            given = token
        } else {
            if isatty(0) != 0 { FileHandle.standardError.write(Data("token for \(url): ".utf8)) }
            given = readLine(strippingNewline: true) ?? ""
        }
        let trimmed = given.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { throw ValidationError("no token given") }
        let client = LineageServerClient(server: url, token: trimmed, attempts: 2)
        let identity = try Self.checkedIdentity(client)
        let path = try Self.store(token: trimmed, for: url)
        let projects =
            identity.admin
            ? "every project"
            : identity.projects.sorted { $0.key < $1.key }.map { "\($0.key) (\($0.value))" }.joined(separator: ", ")
        print("roar: logged in to \(url) as \(identity.name): \(projects); token kept in \(path)")
    }

    static func checkedIdentity(_ client: LineageServerClient) throws -> LineageServerClient.WhoAmI {
        do {
            return try runBlocking { try await client.whoami() }
        } catch {
            throw Failure("\(error)")
        }
    }

    /// Stores the token; the credentials file's path.
    static func store(token: String, for url: String) throws -> String {
        do {
            var credentials = try ServerCredentials.load(environment: Environment.current)
            try credentials.store(token: token, for: url)
            return credentials.path
        } catch {
            throw Failure(error.message)
        }
    }
}

struct Register: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Publish the project's lineage to a lineage server.",
        discussion: """
            Sends every job (or those of the steps given, with their Ray tasks), with what each \
            read, wrote and deleted, all digests, the edges between jobs, composites and git \
            state. Idempotent: jobs are keyed by uid and content, so registering again sends the \
            same batches and changes nothing — run it again after an interruption to finish.

            With --openlineage URL the same jobs go as OpenLineage RunEvents (those of `roar export \
            --format openlineage`), one per POST to URL/api/v1/lineage: Marquez, roar serve or any \
            OpenLineage endpoint. The key: --api-key, else ROAR_OPENLINEAGE_API_KEY (docs/openlineage.md).
            """)

    @Argument(help: "Steps to publish (@N), each with the jobs under it. Default: everything.")
    var steps: [String] = []

    @Flag(help: "Publish every job (the default when no step is given).")
    var all = false

    @Flag(name: .customLong("dry-run"), help: "Say what would be sent, send nothing.")
    var dryRun = false

    @Option(help: "The project's name on the server (default: the project folder's name).")
    var project: String?

    @OptionGroup var serverOptions: ServerOptions

    @Option(
        name: .customLong("openlineage"),
        help: ArgumentHelp(
            "Send the jobs as OpenLineage RunEvents to this endpoint instead (Marquez, roar serve, a collector).",
            valueName: "url"))
    var openLineageURL: String?

    @Option(
        name: .customLong("api-key"),
        help: "The OpenLineage endpoint's API key (sent as a bearer token; default: ROAR_OPENLINEAGE_API_KEY).")
    var apiKey: String?

    func validate() throws {
        if all && !steps.isEmpty { throw ValidationError("give steps or --all, not both") }
        if openLineageURL != nil, serverOptions.server != nil {
            throw ValidationError("give --server (roar's own API) or --openlineage URL, not both")
        }
        if apiKey != nil, openLineageURL == nil { throw ValidationError("--api-key goes with --openlineage URL") }
        for step in steps where !(step.hasPrefix("@") && Int(step.dropFirst()) != nil) {
            throw ValidationError("\"\(step)\" is not a step: steps are written @N (see `roar log`)")
        }
    }

    func run() throws {
        let context = try ProjectContext.open()
        let graph = try context.store.graph()
        let name = project ?? ServerProjectName.derived(fromDirectory: context.project.directory)
        guard ServerProjectName.isValid(name) else {
            throw ValidationError("project name \"\(name)\": \(ServerProjectName.rule) (give --project NAME)")
        }
        let chosen = try Self.jobs(of: steps.compactMap { Int($0.dropFirst()) }, in: graph)
        if let openLineageURL {
            try sendOpenLineage(graph: graph, jobs: chosen, to: openLineageURL, project: name, context: context)
            return
        }
        let registration = try Registration(graph: graph, jobs: chosen)
        let summary =
            "\(registration.jobCount) jobs, \(registration.edgeCount) edges in \(registration.batches.count) batches "
            + "(\(registration.byteCount / 1024) KiB)"
        if dryRun {
            let url = (try? serverOptions.url(context: context)) ?? "(no server configured)"
            print("roar: would register \(summary) into project \(name) at \(url)")
            return
        }
        let client = try serverOptions.client(context: context)
        let showsProgress = isatty(2) == 1
        let total = registration.jobCount
        let batches = registration.batches
        let counts = try runBlocking { () async throws -> LineageServerClient.RegisterCounts in
            var sum = LineageServerClient.RegisterCounts()
            var sent = 0
            for batch in batches {
                sum.add(try await client.register(project: name, body: batch.body))
                sent += batch.jobCount
                if showsProgress {
                    FileHandle.standardError.write(Data("\rroar: registering \(sent)/\(total) jobs".utf8))
                }
            }
            if showsProgress && total > 0 { FileHandle.standardError.write(Data("\n".utf8)) }
            return sum
        }
        print(
            "roar: registered \(summary) into \(name) at \(client.server): \(counts.inserted) new, "
                + "\(counts.updated) updated, \(counts.unchanged) unchanged; edges \(counts.edgesInserted) new, "
                + "\(counts.edgesUnchanged) unchanged")
    }

    /// Jobs of the given steps and every job under them (by parent); all jobs when none is given.
    static func jobs(of steps: [Int], in graph: LineageGraph) throws -> [RecordedJob] {
        guard !steps.isEmpty else { return graph.jobs }
        var chosen = Set(graph.jobs.filter { $0.job.step.map(steps.contains) ?? false }.map(\.job.uid))
        for step in steps where !graph.jobs.contains(where: { $0.job.step == step }) {
            throw ValidationError("no step @\(step) (see `roar log`)")
        }
        var grew = true
        while grew {
            grew = false
            for recorded in graph.jobs where !chosen.contains(recorded.job.uid) {
                if let parent = recorded.job.parentUID, chosen.contains(parent) {
                    chosen.insert(recorded.job.uid)
                    grew = true
                }
            }
        }
        return graph.jobs.filter { chosen.contains($0.job.uid) }
    }
}
