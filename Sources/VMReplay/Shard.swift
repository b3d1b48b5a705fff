// `--shard K/N`: the K-th of N slices of a work list. The list is in canonical order (traces by
// name and checksum, then settings in sweep order), and it is cut into N contiguous runs of
// about equal cost, an item costing its trace's size in bytes. Contiguous runs keep the items
// of one trace together, so a trace is decoded by one shard (two at a cut), not by every one.
import VMTrace

public struct ShardSpec: Equatable, Sendable, CustomStringConvertible {
    /// 1-based: 1...count.
    public var index: Int
    public var count: Int

    public init(index: Int, count: Int) {
        self.index = index
        self.count = count
    }

    /// Parses `K/N` (1 <= K <= N <= 100000). Errors are usage errors (exit 64).
    public init(parsing text: String) throws {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let k = Int(parts[0]), let n = Int(parts[1]) else {
            throw TraceError(.usage, "bad --shard '\(text)': expected K/N, e.g. 1/4 (K counts from 1)")
        }
        guard n >= 1, n <= 100_000, k >= 1, k <= n else {
            throw TraceError(.usage, "bad --shard '\(text)': need 1 <= K <= N <= 100000 (K counts from 1)")
        }
        self.init(index: k, count: n)
    }

    public var description: String { "\(index)/\(count)" }

    /// The shard (1-based) of each item, given the items' costs in work-list order: item i
    /// goes to the shard its cost's midpoint falls in when the total is cut into `count`
    /// equal parts. Exact integer arithmetic, so every machine agrees.
    public static func assignment(costs: [UInt64], count: Int) -> [Int] {
        let weights = costs.map { UInt128(max($0, 1)) }
        let total = weights.reduce(0, +)
        var before: UInt128 = 0
        var shards: [Int] = []
        shards.reserveCapacity(weights.count)
        for w in weights {
            let midpoint2 = 2 * before + w  // twice the midpoint
            shards.append(min(count, Int(midpoint2 * UInt128(count) / (2 * total)) + 1))
            before += w
        }
        return shards
    }

    /// The items of this shard, in work-list order.
    public func items(costs: [UInt64]) -> [Int] {
        ShardSpec.assignment(costs: costs, count: count).enumerated().filter { $0.element == index }.map(\.offset)
    }
}
