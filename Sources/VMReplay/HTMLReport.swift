// `replay --html` / `sweep --html`: one self-contained page.
public enum HTMLReport {
    public static func replay(_ report: Report, table: AttributionTable?, timeline: Timeline?, title: String) -> String { "" }
}
