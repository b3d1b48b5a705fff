// Integers read from JSON exactly: JSONSerialization gives NSNumbers, whose uint64Value and
// int64Value wrap or truncate silently (-1 became 2^64-1 and 2^64 became 0 in a golden's
// phys_mem); a file this tool reads must say what it means or be refused.
import Foundation

/// `value` as a `T` if it is a JSON integer that `T` holds exactly; nil for anything else
/// (a fraction, an exponent, a boolean, a string, a value out of range).
func jsonInteger<T: FixedWidthInteger>(_ value: Any?, as _: T.Type = T.self) -> T? {
    guard let number = value as? NSNumber else { return nil }
    // JSON true/false come as NSNumbers of type char; JSON has no other char-typed number.
    if String(cString: number.objCType) == "c" { return nil }
    // The decimal text of the number as parsed: an integer prints as one (a Double as "1.0").
    return T(number.stringValue)
}
