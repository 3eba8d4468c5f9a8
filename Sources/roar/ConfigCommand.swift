// roar: the command line. Commands only — parse, call a library module, print; logic lives in the modules.

import ArgumentParser
import RoarConfig
import RoarCore

struct Config: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Read and change roar.toml.",
        discussion: "Keys are dotted (`ray.actor_attribution`). See docs/config.md for every key.",
        subcommands: [List.self, Get.self, SetValue.self])

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Every key with its value and meaning.")

        func run() throws {
            let context = try ProjectContext.open()
            let config = try context.config()
            let terminal = Terminal.standardOutput
            var rows: [[String]] = []
            for key in RoarConfig.keys {
                let value = (try? config.value(forKey: key.name)) ?? ""
                rows.append([key.name, value, terminal.dim(key.summary)])
            }
            for line in Terminal.table(rows) { print(line) }
        }
    }

    struct Get: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print one key's value.")

        @Argument(help: "A dotted key, e.g. ray.actor_attribution.")
        var key: String

        func run() throws {
            let context = try ProjectContext.open()
            do {
                print(try context.config().value(forKey: key))
            } catch let error as ConfigError {
                throw Failure(error.description)
            }
        }
    }

    struct SetValue: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set", abstract: "Change one key in roar.toml (validated first).")

        @Argument(help: "A dotted key, e.g. ray.actor_attribution.")
        var key: String

        @Argument(help: "The new value, e.g. per_actor.")
        var value: String

        func run() throws {
            let context = try ProjectContext.open()
            do {
                try RoarConfig.set(key, to: value, inFile: context.project.configPath)
            } catch {
                throw Failure(error.description)
            }
        }
    }
}
