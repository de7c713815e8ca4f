import Foundation
import IoTSocket

/// The reference concentrator's ACL file: `{"<UID>": {"GroupName": str, "AuthKey": hex}}`.
public enum ReferenceACLFile {
    /// Reads and validates the whole file; nothing is returned unless every entry is valid.
    /// - Throws: `ConfigurationError` naming the file and the entry's key (`ObjTest.AuthKey`).
    public static func load(path: String) throws(ConfigurationError) -> [ACLEntry] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigurationError(source: path, key: "(file)", expected: "a readable ACL file (ACLFile)", found: "no such file or no permission")
        }
        let document: JSONValue
        do {
            document = try JSONValue(parsing: data)
        } catch {
            throw ConfigurationError(source: path, key: "(file)", expected: "valid JSON", found: "\(error)")
        }
        guard let members = document.objectMembers else {
            throw ConfigurationError(
                source: path, key: "(top level)", expected: "an object of UID → {GroupName, AuthKey}", found: document.kindDescription)
        }
        var entries: [ACLEntry] = []
        entries.reserveCapacity(members.count)
        for (uidText, item) in members {
            guard let groupText = item["GroupName"]?.stringValue else {
                throw ConfigurationError(source: path, key: "\(uidText).GroupName", expected: "a string", found: item["GroupName"]?.kindDescription)
            }
            guard let keyText = item["AuthKey"]?.stringValue else {
                throw ConfigurationError(source: path, key: "\(uidText).AuthKey", expected: "32 hexadecimal digits", found: item["AuthKey"]?.kindDescription)
            }
            do {
                entries.append(try ACLEntry(group: groupText, uid: uidText, keyHex: keyText))
            } catch {
                let key: String
                switch error {
                case .hexWrongLength, .hexInvalidDigit: key = "\(uidText).AuthKey"
                case .nameTooLong(.groupName, _), .nameEmpty(.groupName), .nameContainsNull(.groupName): key = "\(uidText).GroupName"
                default: key = uidText
                }
                throw ConfigurationError(source: path, key: key, expected: "a valid ACL entry", found: "\(error)")
            }
        }
        return entries
    }
}
