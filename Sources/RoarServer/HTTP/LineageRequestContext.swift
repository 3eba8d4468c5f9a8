public import Hummingbird
public import NIOCore

/// The per-request state of the lineage server: who the bearer token is (set by
/// ``BearerAuthentication``), and the peer address the auth-failure limit counts by.
public struct LineageRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public var identity: Identity?
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }

    /// The authenticated identity; only routes behind ``BearerAuthentication`` ask for it.
    func requireIdentity() throws(ServerError) -> Identity {
        guard let identity else { throw ServerError(.unauthenticated, "this route needs a bearer token") }
        return identity
    }
}
