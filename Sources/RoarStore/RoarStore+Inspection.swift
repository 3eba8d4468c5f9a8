import Foundation
import GRDB

// Internal views of the raw tables, for tests (`@testable import RoarStore`) and debugging.

extension RoarStore {
    /// Every row of every table, rendered as text and sorted, keyed by table name. Row ids of
    /// `job_inputs`, `job_outputs` and `job_deletes` are left out: replacing a job renumbers
    /// them, and nothing refers to them.
    func tableContents() throws(StoreError) -> [String: [String]] {
        try read("inspect") { db in
            var contents: [String: [String]] = [:]
            let tables = try String.fetchAll(
                db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY 1")
            for table in tables {
                let columns = try db.columns(in: table).map(\.name).filter { name in
                    !(name == "id" && ["job_inputs", "job_outputs", "job_deletes"].contains(table))
                }
                let list = columns.map { "\"\($0)\"" }.joined(separator: ", ")
                contents[table] = try Row.fetchAll(db, sql: "SELECT \(list) FROM \"\(table)\"").map { row in
                    row.databaseValues.map(Self.render).joined(separator: " | ")
                }.sorted()
            }
            return contents
        }
    }

    /// Runs SQL outside the store's API (to simulate another roar's changes in tests).
    func executeUnchecked(_ sql: String) throws(StoreError) {
        try write("run SQL on") { db in try db.execute(sql: sql) }
    }

    /// The rows an SQL query returns, rendered as text.
    func queryUnchecked(_ sql: String) throws(StoreError) -> [[String]] {
        try read("query") { db in
            try Row.fetchAll(db, sql: sql).map { row in row.databaseValues.map(Self.render) }
        }
    }

    /// Text as itself, numbers in decimal, blobs in hex, NULL as `NULL`.
    private static func render(_ value: DatabaseValue) -> String {
        switch value.storage {
        case .null: "NULL"
        case .int64(let integer): String(integer)
        case .double(let double): String(double)
        case .string(let string): string
        case .blob(let data): "x'" + data.map { String(format: "%02x", $0) }.joined() + "'"
        }
    }
}
