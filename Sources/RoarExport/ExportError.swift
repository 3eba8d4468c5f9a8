/// What went wrong making one of the graph's formats: a code, the words for a person, and the
/// error underneath when there was one.
public struct ExportError: Error, CustomStringConvertible, Sendable {
    public enum Code: String, Sendable {
        /// Graphviz's `dot` is not on `PATH`.
        case graphvizMissing
        /// `dot` ran but failed, or could not be started.
        case graphvizFailed
        /// `dot` printed a layout roar could not read.
        case layoutUnreadable
    }

    public var code: Code
    public var message: String
    public var underlyingError: (any Error & Sendable)?

    public init(_ code: Code, _ message: String, underlyingError: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.underlyingError = underlyingError
    }

    public var description: String {
        guard let underlyingError else { return message }
        return "\(message) (\(underlyingError))"
    }
}
