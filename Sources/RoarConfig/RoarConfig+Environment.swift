extension RoarConfig {
    /// This configuration with environment variables applied on top: every key has one,
    /// `ROAR_<SECTION>_<KEY>` (``ConfigKey/environmentVariable``), e.g. `ROAR_RAY_ENABLED=false`,
    /// `ROAR_RAY_ACTOR_ATTRIBUTION=per_actor`, `ROAR_RUN_FLUSH_MS=250`.
    ///
    /// Values are written as for ``set(_:to:inFile:)``; booleans also take `1`/`0` (what
    /// `roar run` hands to traced processes). An empty variable counts as unset and changes
    /// nothing. Paths must be absolute: there is no file to resolve them against.
    ///
    /// - Throws: ``ConfigError`` `.badValue` naming the variable, e.g.
    ///   `ROAR_RAY_ACTOR_ATTRIBUTION must be "per_call" or "per_actor", got "per_task"`.
    public func applyingEnvironment(_ environment: [String: String]) throws(ConfigError) -> RoarConfig {
        var config = self
        for key in RoarConfig.keys {
            let variable = key.environmentVariable
            guard let text = environment[variable], !text.isEmpty else { continue }
            switch key.parse(text, subject: variable) {
            case .success(let setting):
                if case .strings(let paths) = setting, let relative = paths.first(where: { !$0.hasPrefix("/") }) {
                    throw ConfigError(
                        code: .badValue, key: key.name,
                        message: "\(variable) must list absolute paths, got \(TOMLText.quoted(relative))")
                }
                key.assign(setting, to: &config)
            case .failure(let problem):
                throw ConfigError(code: .badValue, key: key.name, message: problem.message)
            }
        }
        return config
    }
}
