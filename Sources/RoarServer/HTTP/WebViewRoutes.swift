import Foundation
import Hummingbird
import RoarCore
import RoarExport

/// The web view served by `roar serve` (docs/web-view.md): `GET /projects/{project}/runs/{uid}`
/// is the page `roar dag --format html` writes, for one registered run. A browser cannot send a
/// bearer header, so `/login` takes the token once and keeps it in a cookie (HttpOnly,
/// SameSite=Strict) that only these read-only pages accept; the API never does.
struct WebViewRoutes {
    static let cookie = "roar_token"
    let storage: any LineageStorage
    let isSecure: Bool

    func add(to router: Router<LineageRequestContext>, authentication: BearerAuthentication) {
        router.get("login") { request, _ in Self.loginPage(next: request.uri.queryParameters.get("next"), problem: nil)
        }
        router.post("login") { request, context in try await login(request, context, authentication) }
        router.group("projects").add(middleware: authentication.acceptingCookie(Self.cookie))
            .get("{project}/runs/{uid}") { _, context in try await page(context) }
    }

    func page(_ context: LineageRequestContext) async throws -> Response {
        let identity = try context.requireIdentity()
        let project = context.parameters.get("project") ?? ""
        let uid = context.parameters.get("uid") ?? ""
        guard ProjectName.isValid(project), identity.may(.reader, project: project) else {
            throw ServerError(.forbidden, "token \(identity.name) may not read project \(project.prefix(128))")
        }
        guard FieldReader.isIdentifier(uid), let run = try await storage.runDocuments(project: project, runUID: uid)
        else { throw ServerError(.notFound, "no run \(uid.prefix(64)) in project \(project)") }
        let jobs = run.documents.compactMap { document in
            (try? JSONSerialization.jsonObject(with: Data(document.utf8)) as? [String: Any])
                .flatMap(LineageGraph.recordedJob(fromJSONObject:))
        }
        let graph = LineageGraph(
            jobs: jobs, edges: run.edges.map { LineageEdge(from: $0.from, to: $0.to, path: $0.path) })
        let root = jobs.first { $0.job.uid == uid }?.job.cwd ?? "/"
        let html: String
        do {
            html = try graph.webPage(projectDirectory: root, layout: try GraphvizLayout.locate())
        } catch {
            throw ServerError(.storage, "cannot draw run \(uid): \(error)")
        }
        var headers = HTTPFields()
        headers[.contentType] = "text/html; charset=utf-8"
        headers[.cacheControl] = "private, no-store"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: .init(string: html)))
    }

    func login(_ request: Request, _ context: LineageRequestContext, _ authentication: BearerAuthentication)
        async throws -> Response
    {
        let form = try await RequestBodies.form(request, limit: 8 << 10)
        let next = Self.safeNext(form["next"])
        let token = (form["token"] ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        guard try await authentication.identity(of: token, from: context) != nil else {
            var page = Self.loginPage(next: next, problem: "That token is not one this server knows.")
            page.status = .unauthorized
            return page
        }
        var headers = HTTPFields()
        headers[.location] = next
        headers[.setCookie] =
            "\(Self.cookie)=\(token); Path=/projects; HttpOnly; SameSite=Strict; Max-Age=43200"
            + (isSecure ? "; Secure" : "")
        return Response(status: .seeOther, headers: headers)
    }

    /// Only a path on this server: never another site (`//host`) after logging in.
    static func safeNext(_ next: String?) -> String {
        guard let next, next.hasPrefix("/"), !next.hasPrefix("//"), !next.contains("\\") else { return "/login" }
        return next
    }

    static func loginPage(next: String?, problem: String?) -> Response {
        let escapedNext = WebPage.htmlEscaped(safeNext(next))
        let message = problem.map { "<p class=\"problem\">\(WebPage.htmlEscaped($0))</p>" } ?? ""
        let html = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>roar · sign in</title>
            <meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; form-action 'self'">
            <style>body{font:15px system-ui,sans-serif;margin:4em auto;max-width:28em;color:#222}
            input{font:inherit;width:100%;padding:.4em;margin:.4em 0}button{font:inherit;padding:.4em 1.2em}
            .problem{color:#b00}</style></head>
            <body><h1>roar</h1><p>Paste your token (from <code>roar serve token create</code>).</p>\(message)
            <form method="post" action="/login"><input type="password" name="token" id="token" autocomplete="off" autofocus>
            <input type="hidden" name="next" value="\(escapedNext)"><button type="submit" id="sign-in">Sign in</button></form>
            </body></html>
            """
        var headers = HTTPFields()
        headers[.contentType] = "text/html; charset=utf-8"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: .init(string: html)))
    }
}
