public import RoarCore

/// A JSON value as Ray's `runtime_env` holds it. In RoarCapture because ``SecretRedactor`` masks the
/// JSON options of every recorded command, local runs included.
public typealias RuntimeEnvironmentValue = JSONValue
