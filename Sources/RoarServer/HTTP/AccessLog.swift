import Hummingbird
import Logging

/// One structured log line per request: method, route pattern (never the query, which may hold
/// a path), status and milliseconds. Errors are logged with their code.
struct AccessLog: RouterMiddleware {
    typealias Context = LineageRequestContext

    func handle(
        _ request: Request, context: LineageRequestContext,
        next: (Request, LineageRequestContext) async throws -> Response
    ) async throws -> Response {
        let started = ContinuousClock.now
        do {
            let response = try await next(request, context)
            log(request, context, status: Int(response.status.code), started: started)
            return response
        } catch let error as ServerError {
            log(request, context, status: Int(error.status.code), started: started, code: error.code.rawValue)
            throw error
        } catch {
            log(request, context, status: 500, started: started, code: "\(type(of: error))")
            throw error
        }
    }

    func log(
        _ request: Request, _ context: LineageRequestContext, status: Int, started: ContinuousClock.Instant,
        code: String? = nil
    ) {
        let elapsed = ContinuousClock.now - started
        let milliseconds = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
        var metadata: Logger.Metadata = [
            "method": "\(request.method)", "route": "\(context.endpointPath ?? "unmatched")", "status": "\(status)",
            "ms": "\((milliseconds * 10).rounded() / 10)",
        ]
        if let code { metadata["error"] = "\(code)" }
        context.logger.info("request", metadata: metadata)
    }
}
