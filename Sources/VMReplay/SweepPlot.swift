// `sweep --plot FILE.svg`: traps, prefault hits and wasted prefaults against the first swept
// setting, one line per combination of the other settings, as three panels of one SVG.
import Foundation

public enum SweepPlot {
    /// The panels: title and report key.
    static let panels: [(title: String, key: String)] = [
        ("Page-fault traps", "trap.page_faults"),
        ("Prefault hits (faults avoided)", "prefault.hits"),
        ("Wasted prefaults (never used)", "prefault.unused"),
    ]

    static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b",
                          "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]

    /// Renders the chart. `title` names the trace.
    public static func render(_ result: SweepResult, title: String) -> String {
        guard let first = result.rows.first, let xName = first.settings.first?.name else {
            return emptyChart(title)
        }
        // x values in sweep order (first setting), series = the other settings' combinations.
        var xValues: [Int64] = []
        var seriesLabels: [String] = []
        var points: [String: [Int64: [String: Double]]] = [:]
        for row in result.rows {
            let x = row.settings[0].value
            if !xValues.contains(x) { xValues.append(x) }
            let rest = row.settings.dropFirst().map { "\($0.name)=\($0.value)" }.joined(separator: ", ")
            let label = rest.isEmpty ? "all rows" : rest
            if !seriesLabels.contains(label) { seriesLabels.append(label) }
            for p in panels {
                points[label, default: [:]][x, default: [:]][p.key] = row.report[p.key]?.asDouble ?? 0
            }
        }

        let panelWidth = 300.0, panelHeight = 240.0
        let left = 70.0, gap = 80.0, top = 120.0
        let width = left + Double(panels.count) * panelWidth + Double(panels.count - 1) * gap + 30
        let legendRows = Double((seriesLabels.count + 2) / 3)
        let height = top + panelHeight + 50 + legendRows * 20
        var svg = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" \
            viewBox="0 0 \(Int(width)) \(Int(height))" font-family="Helvetica, Arial, sans-serif">
            <rect width="100%" height="100%" fill="white"/>
            <text x="\(left)" y="30" font-size="18" font-weight="bold">\(xml("vmreplay sweep: " + title))</text>
            <text x="\(left)" y="52" font-size="13" fill="#444">\(xml("x axis: \(xName); one line per \(seriesLabels.count > 1 ? "combination of the other settings" : "sweep")"))</text>

            """
        // Legend.
        for (i, label) in seriesLabels.enumerated() {
            let col = Double(i % 3), row = Double(i / 3)
            let x = left + col * 320, y = 72 + row * 20
            let color = palette[i % palette.count]
            svg += "<line x1=\"\(x)\" y1=\"\(y - 4)\" x2=\"\(x + 24)\" y2=\"\(y - 4)\" stroke=\"\(color)\" stroke-width=\"3\"/>"
            svg += "<text x=\"\(x + 30)\" y=\"\(y)\" font-size=\"12\">\(xml(label))</text>\n"
        }
        let panelTop = top + max(0, legendRows - 1) * 20
        for (pi, panel) in panels.enumerated() {
            let x0 = left + Double(pi) * (panelWidth + gap)
            let y0 = panelTop
            var maxY = 0.0
            for label in seriesLabels {
                for x in xValues { maxY = max(maxY, points[label]?[x]?[panel.key] ?? 0) }
            }
            let (tickStep, yTop) = niceScale(maxY)
            func px(_ i: Int) -> Double {
                xValues.count == 1 ? x0 + panelWidth / 2 : x0 + 10 + Double(i) * (panelWidth - 20) / Double(xValues.count - 1)
            }
            func py(_ v: Double) -> Double { y0 + panelHeight - v / yTop * panelHeight }
            svg += "<text x=\"\(x0 + panelWidth / 2)\" y=\"\(y0 - 10)\" font-size=\"14\" text-anchor=\"middle\" font-weight=\"bold\">\(xml(panel.title))</text>\n"
            // Grid and y ticks.
            var t = 0.0
            while t <= yTop + tickStep / 2 {
                let y = py(t)
                svg += "<line x1=\"\(x0)\" y1=\"\(y)\" x2=\"\(x0 + panelWidth)\" y2=\"\(y)\" stroke=\"#e5e5e5\"/>"
                svg += "<text x=\"\(x0 - 6)\" y=\"\(y + 4)\" font-size=\"11\" text-anchor=\"end\">\(shortNumber(t))</text>\n"
                t += tickStep
            }
            svg += "<line x1=\"\(x0)\" y1=\"\(y0)\" x2=\"\(x0)\" y2=\"\(y0 + panelHeight)\" stroke=\"#333\"/>"
            svg += "<line x1=\"\(x0)\" y1=\"\(y0 + panelHeight)\" x2=\"\(x0 + panelWidth)\" y2=\"\(y0 + panelHeight)\" stroke=\"#333\"/>\n"
            for (i, x) in xValues.enumerated() {
                svg += "<text x=\"\(px(i))\" y=\"\(y0 + panelHeight + 16)\" font-size=\"11\" text-anchor=\"middle\">\(x)</text>"
            }
            svg += "<text x=\"\(x0 + panelWidth / 2)\" y=\"\(y0 + panelHeight + 36)\" font-size=\"12\" text-anchor=\"middle\">\(xml(xName))</text>\n"
            svg += "<text x=\"\(x0 - 52)\" y=\"\(y0 + panelHeight / 2)\" font-size=\"12\" text-anchor=\"middle\" transform=\"rotate(-90 \(x0 - 52) \(y0 + panelHeight / 2))\">\(xml(panel.key))</text>\n"
            // Series.
            for (si, label) in seriesLabels.enumerated() {
                let color = palette[si % palette.count]
                var coords: [String] = []
                for (i, x) in xValues.enumerated() {
                    guard let v = points[label]?[x]?[panel.key] else { continue }
                    coords.append("\(px(i)),\(py(v))")
                }
                svg += "<polyline class=\"series\" data-series=\"\(xml(label))\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\" points=\"\(coords.joined(separator: " "))\"/>\n"
                for c in coords {
                    let xy = c.split(separator: ",")
                    svg += "<circle cx=\"\(xy[0])\" cy=\"\(xy[1])\" r=\"3\" fill=\"\(color)\"/>"
                }
                svg += "\n"
            }
        }
        svg += "</svg>\n"
        return svg
    }

    static func emptyChart(_ title: String) -> String {
        """
        <svg xmlns="http://www.w3.org/2000/svg" width="400" height="60"><text x="10" y="30">\(xml(title)): nothing swept</text></svg>

        """
    }

    /// A tick step of 1, 2 or 5 × 10^k giving about five ticks, and the axis top.
    static func niceScale(_ maxValue: Double) -> (step: Double, top: Double) {
        guard maxValue > 0 else { return (1, 1) }
        let raw = maxValue / 5
        let magnitude = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? raw
        return (step, ceil(maxValue / step) * step)
    }

    static func shortNumber(_ v: Double) -> String {
        if v >= 1e6 { return String(format: "%gM", v / 1e6) }
        if v >= 1e4 { return String(format: "%gk", v / 1e3) }
        return String(format: "%g", v)
    }

    static func xml(_ s: String) -> String {
        var out = ""
        for c in s {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.append(c)
            }
        }
        return out
    }
}
