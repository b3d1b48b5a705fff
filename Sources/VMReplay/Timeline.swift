// `replay --timeline FILE.svg` / `--timeline-csv FILE.csv`: the counters per window of accesses.
//
// The trace's length is not known until its end (standard input, gzip), so the recorder keeps a
// fixed number of windows: each starts one access wide, and when an access falls past the last
// window, neighbouring windows are merged in pairs and the width doubles. Memory is the window
// count whatever the trace's length (10^9 accesses with 200 windows: width 2^23, 120 windows),
// and a window's figures are exact sums, never estimates. At the end the trace covers between
// half the windows and all of them.
import Foundation
import VMTrace

/// The events the time axis marks, counted per window.
public struct TimelineMarks: Equatable, Sendable {
    public enum Kind: Int, CaseIterable, Sendable {
        case fork, exec, exit, munmap

        init?(_ event: TraceEvent) {
            switch event {
            case .fork: self = .fork
            case .exec: self = .exec
            case .exit: self = .exit
            case .munmap: self = .munmap
            default: return nil
            }
        }

        public var name: String {
            switch self {
            case .fork: return "fork"
            case .exec: return "exec"
            case .exit: return "exit"
            case .munmap: return "munmap"
            }
        }
    }

    public var counts = [UInt64](repeating: 0, count: Kind.allCases.count)

    public subscript(_ k: Kind) -> UInt64 {
        get { counts[k.rawValue] }
        set { counts[k.rawValue] = newValue }
    }

    public var isEmpty: Bool { counts.allSatisfy { $0 == 0 } }

    static func += (a: inout TimelineMarks, b: TimelineMarks) {
        for i in a.counts.indices { a.counts[i] &+= b.counts[i] }
    }
}

/// One window: accesses [firstAccess, endAccess) and what they cost.
public struct TimelineWindow: Sendable {
    public var firstAccess: UInt64
    public var endAccess: UInt64
    public var tally: FaultTally
    public var marks: TimelineMarks
}

/// A replay's counters over time.
public struct Timeline: Sendable {
    /// Accesses per window (a power of two).
    public var windowWidth: UInt64
    public var accesses: UInt64
    public var windows: [TimelineWindow]

    public var total: FaultTally {
        var t = FaultTally()
        for w in windows { t += w.tally }
        return t
    }

    /// The kinds the chart stacks, with their colours.
    static let stacked: [(column: FaultTally.Column, label: String, color: String)] = [
        (.zfod, "zero-fill (v_zfod)", "#1f77b4"),
        (.cowFaults, "copy-on-write (v_cow_faults)", "#ff7f0e"),
        (.majflt, "major (ru_majflt)", "#d62728"),
        (.prefaultHits, "prefault-served (prefault.hits)", "#2ca02c"),
    ]
    static let markColors: [TimelineMarks.Kind: String] = [.fork: "#9467bd", .exec: "#8c564b", .exit: "#333333", .munmap: "#e377c2"]

    /// A header and one row per window: its access range, every counter, the events in it.
    public func renderCSV() -> String {
        var header = ["window", "first_access", "end_access"]
        header += FaultTally.Column.allCases.map(\.key)
        header += TimelineMarks.Kind.allCases.map { "events.\($0.name)" }
        var out = header.joined(separator: ",") + "\n"
        for (i, w) in windows.enumerated() {
            var cells = [String(i), String(w.firstAccess), String(w.endAccess)]
            cells += FaultTally.Column.allCases.map { String(w.tally[$0]) }
            cells += TimelineMarks.Kind.allCases.map { String(w.marks[$0]) }
            out += cells.joined(separator: ",") + "\n"
        }
        return out
    }

    /// A stacked bar per window (zero-fill, COW, major, prefault-served), the traps as a line,
    /// and the fork/exec/exit/munmap events as ticks under the time axis.
    public func renderSVG(title: String) -> String {
        let chart = TimelineChart(title: title, subtitle: "\(Report.grouped(.int(Int64(clamping: accesses)))) accesses in "
            + "\(windows.count) windows of \(Report.grouped(.int(Int64(clamping: windowWidth)))); bars stacked by kind, line: traps",
            accesses: accesses, legendLabels: Timeline.stacked.map(\.label) + ["traps (trap.page_faults)"])
        var svg = chart.header(legend: Timeline.stacked.map { ($0.label, $0.color, false) } + [("traps (trap.page_faults)", "#000000", true)])
        let maxStack = windows.map { w in Timeline.stacked.reduce(UInt64(0)) { $0 + w.tally[$1.column] } }.max() ?? 0
        let maxTraps = windows.map { $0.tally[.traps] }.max() ?? 0
        let yMax = chart.niceMax(Double(max(maxStack, maxTraps)))
        svg += chart.axes(yMax: yMax)
        for w in windows {
            var y = chart.bottom
            let x0 = chart.x(w.firstAccess), x1 = chart.x(w.endAccess)
            for s in Timeline.stacked {
                let v = Double(w.tally[s.column])
                guard v > 0 else { continue }
                let h = v / yMax * chart.plotHeight
                y -= h
                svg += "<rect x=\"\(f(x0))\" y=\"\(f(y))\" width=\"\(f(max(x1 - x0, 0.5)))\" height=\"\(f(h))\" fill=\"\(s.color)\">"
                    + "<title>\(SweepPlot.xml("\(s.label): \(w.tally[s.column]) in \(w.span)"))</title></rect>\n"
            }
        }
        svg += chart.polyline(windows.map { (($0.firstAccess + $0.endAccess) / 2, Double($0.tally[.traps])) }, yMax: yMax,
                              color: "#000000", label: "traps")
        svg += chart.marks(windows)
        return svg + "</svg>\n"
    }
}

/// Builds a timeline as the replay goes (InsightRecorder charges it).
final class TimelineRecorder {
    private let capacity: Int
    private(set) var width: UInt64 = 1
    private var tallies: [FaultTally]
    private var marks: [TimelineMarks]

    init(windows: Int) {
        capacity = max(windows, 2)
        tallies = Array(repeating: FaultTally(), count: capacity)
        marks = Array(repeating: TimelineMarks(), count: capacity)
    }

    private func slot(_ index: UInt64) -> Int {
        while index / width >= UInt64(capacity) { fold() }
        return Int(index / width)
    }

    /// Merges windows in pairs: the width doubles, half the windows free up.
    private func fold() {
        for k in 0..<capacity {
            var t = FaultTally(), m = TimelineMarks()
            for j in [2 * k, 2 * k + 1] where j < capacity {
                t += tallies[j]
                m += marks[j]
            }
            tallies[k] = t
            marks[k] = m
        }
        width *= 2
    }

    func add(_ tally: FaultTally, at index: UInt64) { tallies[slot(index)] += tally }

    func mark(_ kind: TimelineMarks.Kind, at index: UInt64) { marks[slot(index)][kind] &+= 1 }

    var total: FaultTally {
        var t = FaultTally()
        for x in tallies { t += x }
        return t
    }

    /// The windows covering `accesses` accesses; what came after the last access (the end's
    /// unused prefaults, trailing exits) belongs to the last window.
    func finish(accesses: UInt64) -> Timeline {
        let last = slot(max(accesses, 1) - 1)
        var windows: [TimelineWindow] = []
        for i in 0...last {
            windows.append(TimelineWindow(firstAccess: UInt64(i) * width, endAccess: min(UInt64(i + 1) * width, max(accesses, 1)),
                                          tally: tallies[i], marks: marks[i]))
        }
        for i in (last + 1)..<capacity {
            windows[last].tally += tallies[i]
            windows[last].marks += marks[i]
        }
        return Timeline(windowWidth: width, accesses: accesses, windows: windows)
    }
}

/// The frame the timeline charts share: title, legend, axes, access-count x axis, event ticks.
struct TimelineChart {
    var title: String
    var subtitle: String
    var accesses: UInt64
    let width = 1000.0, left = 80.0, right = 970.0
    /// Below the title and the legend.
    var top = 110.0
    /// Legend items per row, and the room each takes.
    var legendColumns = 4
    var legendColumnWidth = 225.0
    var bottom: Double { top + 270 }
    var height: Double { bottom + 100 }
    var plotHeight: Double { bottom - top }

    init(title: String, subtitle: String, accesses: UInt64, legendLabels: [String]) {
        self.title = title
        self.subtitle = subtitle
        self.accesses = accesses
        // About 7 px a character at 12 px, plus the swatch.
        let longest = Double(legendLabels.map(\.count).max() ?? 0) * 7 + 40
        legendColumnWidth = max(225, longest)
        legendColumns = max(1, Int((right - left) / legendColumnWidth))
        top = 92 + 18 * Double(max((legendLabels.count + legendColumns - 1) / legendColumns, 1))
    }

    func x(_ access: UInt64) -> Double {
        left + (right - left) * Double(access) / Double(max(accesses, 1))
    }

    func niceMax(_ v: Double) -> Double {
        guard v > 0 else { return 1 }
        let p = pow10(floor(log10(v)))
        for m in [1.0, 2, 2.5, 5, 10] where m * p >= v { return m * p }
        return 10 * p
    }

    private func pow10(_ e: Double) -> Double {
        var r = 1.0
        if e >= 0 { for _ in 0..<Int(e) { r *= 10 } } else { for _ in 0..<Int(-e) { r /= 10 } }
        return r
    }

    func header(legend: [(label: String, color: String, line: Bool)]) -> String {
        var svg = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \(Int(width)) \(Int(height))" \
            font-family="Helvetica, Arial, sans-serif">
            <rect width="100%" height="100%" fill="white"/>
            <text x="\(left)" y="28" font-size="18" font-weight="bold">\(SweepPlot.xml(title))</text>
            <text x="\(left)" y="48" font-size="12" fill="#444">\(SweepPlot.xml(subtitle))</text>

            """
        for (i, item) in legend.enumerated() {
            let lx = left + Double(i % legendColumns) * legendColumnWidth, ly = 70 + Double(i / legendColumns) * 18
            if item.line {
                svg += "<line x1=\"\(f(lx))\" y1=\"\(f(ly - 4))\" x2=\"\(f(lx + 18))\" y2=\"\(f(ly - 4))\" stroke=\"\(item.color)\" stroke-width=\"2\"/>"
            } else {
                svg += "<rect x=\"\(f(lx))\" y=\"\(f(ly - 10))\" width=\"12\" height=\"12\" fill=\"\(item.color)\"/>"
            }
            svg += "<text x=\"\(f(lx + 24))\" y=\"\(f(ly))\" font-size=\"12\">\(SweepPlot.xml(item.label))</text>\n"
        }
        return svg
    }

    func axes(yMax: Double) -> String {
        var svg = "<line x1=\"\(left)\" y1=\"\(bottom)\" x2=\"\(right)\" y2=\"\(bottom)\" stroke=\"#000\"/>"
        svg += "<line x1=\"\(left)\" y1=\"\(top)\" x2=\"\(left)\" y2=\"\(bottom)\" stroke=\"#000\"/>\n"
        for i in 0...4 {
            let v = yMax * Double(i) / 4
            let y = bottom - plotHeight * Double(i) / 4
            svg += "<line x1=\"\(left - 4)\" y1=\"\(f(y))\" x2=\"\(right)\" y2=\"\(f(y))\" stroke=\"#ddd\"/>"
            svg += "<text x=\"\(left - 8)\" y=\"\(f(y + 4))\" font-size=\"11\" text-anchor=\"end\">\(Report.grouped(.int(Int64(v.rounded()))))</text>\n"
            let a = accesses / 4 * UInt64(i)
            svg += "<text x=\"\(f(x(a)))\" y=\"\(bottom + 16)\" font-size=\"11\" text-anchor=\"middle\">\(Report.grouped(.int(Int64(clamping: a))))</text>\n"
        }
        svg += "<text x=\"\((left + right) / 2)\" y=\"\(bottom + 34)\" font-size=\"12\" text-anchor=\"middle\">accesses</text>\n"
        svg += "<text x=\"20\" y=\"\((top + bottom) / 2)\" font-size=\"12\" text-anchor=\"middle\" "
            + "transform=\"rotate(-90 20 \((top + bottom) / 2))\">per window</text>\n"
        return svg
    }

    func polyline(_ points: [(UInt64, Double)], yMax: Double, color: String, label: String) -> String {
        guard !points.isEmpty else { return "" }
        let coords = points.map { "\(f(x($0.0))),\(f(bottom - $0.1 / yMax * plotHeight))" }.joined(separator: " ")
        return "<polyline points=\"\(coords)\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"1.5\"><title>\(SweepPlot.xml(label))</title></polyline>\n"
    }

    /// One row of ticks per event kind under the axis, each with the window's count on hover.
    func marks(_ windows: [TimelineWindow]) -> String {
        var svg = ""
        for (row, kind) in TimelineMarks.Kind.allCases.enumerated() {
            let y = bottom + 44 + Double(row) * 12
            svg += "<text x=\"\(left - 8)\" y=\"\(f(y + 4))\" font-size=\"10\" text-anchor=\"end\">\(kind.name)</text>"
            for w in windows where w[kind] > 0 {
                let cx = x((w.firstAccess + w.endAccess) / 2)
                svg += "<rect x=\"\(f(cx - 1.5))\" y=\"\(f(y - 4))\" width=\"3\" height=\"8\" fill=\"\(Timeline.markColors[kind] ?? "#000")\">"
                    + "<title>\(SweepPlot.xml("\(w[kind]) \(kind.name) in \(w.span)"))</title></rect>"
            }
            svg += "\n"
        }
        return svg
    }
}

extension TimelineWindow {
    subscript(_ k: TimelineMarks.Kind) -> UInt64 { marks[k] }

    /// "accesses A to B" (0-based, inclusive), for tooltips.
    var span: String { "accesses \(firstAccess) to \(max(endAccess, firstAccess + 1) - 1)" }
}

/// Two decimals at most, for SVG coordinates.
func f(_ v: Double) -> String {
    let r = (v * 100).rounded() / 100
    return r == r.rounded() ? String(Int(r)) : String(r)
}

extension Timeline {
    /// `sweep --timeline`: the traps per window of every setting as one line each. The settings
    /// replay the same accesses, so their windows line up.
    public static func renderOverlaySVG(_ timelines: [(label: String, timeline: Timeline)], title: String) -> String {
        let accesses = timelines.first?.timeline.accesses ?? 0
        let width = timelines.first?.timeline.windowWidth ?? 1
        let chart = TimelineChart(title: title, subtitle: "\(Report.grouped(.int(Int64(clamping: accesses)))) accesses, windows of "
            + "\(Report.grouped(.int(Int64(clamping: width)))); one line per setting: traps (trap.page_faults) per window", accesses: accesses,
            legendLabels: timelines.map(\.label))
        let colors = SweepPlot.palette
        var svg = chart.header(legend: timelines.enumerated().map { i, t in (t.label, colors[i % colors.count], true) })
        let yMax = chart.niceMax(Double(timelines.flatMap { $0.timeline.windows.map { $0.tally[.traps] } }.max() ?? 0))
        svg += chart.axes(yMax: yMax)
        for (i, t) in timelines.enumerated() {
            svg += chart.polyline(t.timeline.windows.map { (($0.firstAccess + $0.endAccess) / 2, Double($0.tally[.traps])) },
                                  yMax: yMax, color: colors[i % colors.count], label: t.label)
        }
        if let first = timelines.first { svg += chart.marks(first.timeline.windows) }
        return svg + "</svg>\n"
    }

    /// `sweep --timeline-csv`: the settings, then the window's columns, one row per window per setting.
    public static func renderCSV(_ timelines: [(settings: [(name: String, value: Int64)], timeline: Timeline)]) -> String {
        var out = ""
        for (i, t) in timelines.enumerated() {
            let lines = t.timeline.renderCSV().split(separator: "\n", omittingEmptySubsequences: false)
            let prefix = t.settings.map { String($0.value) }.joined(separator: ",")
            if i == 0, let header = lines.first {
                out += t.settings.map { csvField("sweep." + $0.name) }.joined(separator: ",") + "," + header + "\n"
            }
            for line in lines.dropFirst() where !line.isEmpty { out += prefix + "," + line + "\n" }
        }
        return out
    }
}
