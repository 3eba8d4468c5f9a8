import Hummingbird
import Synchronization

/// `Authorization: Bearer roar_…` on every `/api/v1` route (RFC 6750): no token or an unknown one
/// is 401 with `WWW-Authenticate`; an address that failed ``AuthFailureLimit/limit`` times in a
/// minute gets 429 until the minute has passed, so tokens cannot be guessed at speed.
struct BearerAuthentication: RouterMiddleware {
    typealias Context = LineageRequestContext
    let storage: any LineageStorage
    let failures: AuthFailureLimit
    let metrics: ServerMetrics

    func handle(
        _ request: Request, context: LineageRequestContext,
        next: (Request, LineageRequestContext) async throws -> Response
    ) async throws -> Response {
        let address = context.remoteAddress?.ipAddress ?? "unknown"
        if failures.isBlocked(address) {
            throw ServerError(.tooManyRequests, "too many failed authentications from \(address): wait a minute")
        }
        guard let header = request.headers[.authorization] else {
            failures.record(address)
            metrics.authenticationFailed()
            throw ServerError(
                .unauthenticated,
                "no bearer token: send `Authorization: Bearer <token>` (make one with `roar serve token create`)")
        }
        let token = header.hasPrefix("Bearer ") ? String(header.dropFirst("Bearer ".count)) : ""
        guard AccessToken.isWellFormed(token),
            let identity = try await storage.identity(tokenDigest: AccessToken.digest(of: token))
        else {
            failures.record(address)
            metrics.authenticationFailed()
            throw ServerError(.unauthenticated, "the bearer token is not one this server knows (or it was revoked)")
        }
        var context = context
        context.identity = identity
        return try await next(request, context)
    }
}

/// Failed authentications per peer address over a sliding minute.
final class AuthFailureLimit: Sendable {
    let limit: Int
    let window: Duration
    private let failures = Mutex<[String: [ContinuousClock.Instant]]>([:])

    init(limit: Int, window: Duration = .seconds(60)) {
        self.limit = limit
        self.window = window
    }

    func record(_ address: String) {
        let now = ContinuousClock.now
        failures.withLock { table in
            table[address, default: []].append(now)
            if table.count > 10_000 { table = table.filter { $0.value.last.map { now - $0 < window } ?? false } }
        }
    }

    func isBlocked(_ address: String) -> Bool {
        let now = ContinuousClock.now
        return failures.withLock { table in
            guard var recent = table[address] else { return false }
            recent.removeAll { now - $0 >= window }
            table[address] = recent.isEmpty ? nil : recent
            return recent.count >= limit
        }
    }
}
