// Handing a value to another thread.

/// A value given to another thread that the giver no longer touches: an ownership transfer the
/// compiler cannot see, so sending it is safe although the value's type is not Sendable (a
/// decoder moving to its producer thread, say).
public final class HandedOver<Value>: @unchecked Sendable {
    public let value: Value
    public init(_ value: Value) { self.value = value }
}
