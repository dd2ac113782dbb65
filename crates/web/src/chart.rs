//! Charts rendered on the server as SVG markup, so they are readable without JavaScript and cost no client
//! library. Colours come from CSS classes, so the light and dark themes apply to them like to the rest of the page.

use std::fmt::Write as _;

use crate::html::escape;

/// Outcome counts of one column (a day or a build).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// Axis label and tooltip title (a date or a build id).
    pub label: String,
    /// Passed tests.
    pub passed: i64,
    /// Failed and broken tests.
    pub failed: i64,
    /// Skipped tests.
    pub skipped: i64,
}

impl Column {
    fn total(&self) -> i64 {
        self.passed.max(0) + self.failed.max(0) + self.skipped.max(0)
    }
}

/// Geometry of a chart: the SVG size and the plot area inside the axis margins.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Frame {
    /// SVG width (view box units).
    pub width: f64,
    /// SVG height.
    pub height: f64,
    /// Left margin, room for the value axis labels.
    pub left: f64,
    /// Top margin.
    pub top: f64,
    /// Right margin.
    pub right: f64,
    /// Bottom margin, room for the column labels.
    pub bottom: f64,
}

impl Frame {
    /// The frame every chart of the UI uses; the SVG scales to its container.
    pub const STANDARD: Self = Self { width: 720.0, height: 220.0, left: 44.0, top: 12.0, right: 12.0, bottom: 28.0 };

    fn plot_width(&self) -> f64 {
        self.width - self.left - self.right
    }

    fn plot_height(&self) -> f64 {
        self.height - self.top - self.bottom
    }

    /// The vertical position of `value` on a value axis from 0 to `max` (the baseline is at the bottom).
    pub fn y(&self, value: f64, max: f64) -> f64 {
        let share = if max > 0.0 { (value / max).clamp(0.0, 1.0) } else { 0.0 };
        self.top + self.plot_height() * (1.0 - share)
    }

    /// The horizontal centre of column `index` of `count` equal slots.
    pub fn x_center(&self, index: usize, count: usize) -> f64 {
        let slot = self.plot_width() / count.max(1) as f64;
        self.left + slot * (index as f64 + 0.5)
    }
}

/// A value axis for counts: a round step (1, 2 or 5 times a power of ten) giving about four intervals, and the top
/// of the axis as a whole number of steps at or above `max`.
pub fn count_axis(max: i64) -> (i64, i64) {
    if max <= 0 {
        return (1, 1);
    }
    let rough = (max as f64 / 4.0).max(1.0);
    let magnitude = 10f64.powf(rough.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * magnitude).find(|s| *s >= rough).unwrap_or(rough);
    let step = (step.round() as i64).max(1);
    let top = (max + step - 1) / step * step;
    (step, top)
}

/// Formats a coordinate with at most one decimal, which keeps the markup small and stable for tests.
fn num(value: f64) -> String {
    let rounded = (value * 10.0).round() / 10.0;
    if rounded.fract() == 0.0 { format!("{}", rounded as i64) } else { format!("{rounded:.1}") }
}

/// Indexes of the columns whose labels are printed: first, middle and last, so labels never overlap.
fn labelled(count: usize) -> Vec<usize> {
    let mut picked = vec![0, count / 2, count.saturating_sub(1)];
    picked.dedup();
    picked.into_iter().filter(|i| *i < count).collect()
}

/// A stacked bar chart of passed (bottom), failed and skipped counts per column, with a titled tooltip per bar
/// and an accessible name summarising the whole chart.
pub fn stacked_bars(title: &str, columns: &[Column], frame: Frame) -> String {
    let mut svg = open_chart(title, frame);
    let max = columns.iter().map(Column::total).max().unwrap_or(0);
    if max == 0 {
        let _ = write!(
            svg,
            r#"<text class="chart-empty" x="{}" y="{}" text-anchor="middle">No test results in this period</text></svg>"#,
            num(frame.width / 2.0),
            num(frame.height / 2.0)
        );
        return svg;
    }
    let (step, top) = count_axis(max);
    let top_f = top as f64;
    let mut tick = 0;
    while tick <= top {
        let y = num(frame.y(tick as f64, top_f));
        let _ = write!(
            svg,
            r#"<line class="chart-grid" x1="{l}" x2="{r}" y1="{y}" y2="{y}"/><text class="chart-axis" x="{lx}" y="{y}" dy="4" text-anchor="end">{tick}</text>"#,
            l = num(frame.left),
            r = num(frame.width - frame.right),
            lx = num(frame.left - 6.0),
        );
        tick += step;
    }
    let slot = frame.plot_width() / columns.len() as f64;
    // Narrow bars when there are few columns: a single wide block reads as a different kind of chart.
    let bar = (slot * 0.7).clamp(1.0, 48.0);
    for (i, column) in columns.iter().enumerate() {
        let x = frame.x_center(i, columns.len()) - bar / 2.0;
        let _ = write!(
            svg,
            "<g><title>{}: {} passed, {} failed, {} skipped</title>",
            escape(&column.label),
            column.passed,
            column.failed,
            column.skipped
        );
        let mut base = 0i64;
        for (class, value) in [("c-pass", column.passed), ("c-fail", column.failed), ("c-skip", column.skipped)] {
            let value = value.max(0);
            if value == 0 {
                continue;
            }
            let y_top = frame.y((base + value) as f64, top_f);
            let y_bottom = frame.y(base as f64, top_f);
            let _ = write!(
                svg,
                r#"<rect class="{class}" x="{}" y="{}" width="{}" height="{}"/>"#,
                num(x),
                num(y_top),
                num(bar),
                num(y_bottom - y_top)
            );
            base += value;
        }
        svg.push_str("</g>");
    }
    close_chart(svg, columns, frame)
}

/// A line of pass rates (0–100 %) per column, with a dot and tooltip per point. Columns without passed or failed
/// tests have no rate and break the line.
pub fn pass_rate_line(title: &str, columns: &[Column], frame: Frame) -> String {
    let mut svg = open_chart(title, frame);
    for tick in [0, 25, 50, 75, 100] {
        let y = num(frame.y(f64::from(tick), 100.0));
        let _ = write!(
            svg,
            r#"<line class="chart-grid" x1="{l}" x2="{r}" y1="{y}" y2="{y}"/><text class="chart-axis" x="{lx}" y="{y}" dy="4" text-anchor="end">{tick}%</text>"#,
            l = num(frame.left),
            r = num(frame.width - frame.right),
            lx = num(frame.left - 6.0),
        );
    }
    let points: Vec<Option<(f64, f64, i64)>> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            pass_rate(c.passed, c.failed)
                .map(|rate| (frame.x_center(i, columns.len()), frame.y(rate as f64, 100.0), rate))
        })
        .collect();
    for run in points.split(Option::is_none).filter(|run| run.len() > 1) {
        let coords: Vec<String> = run.iter().flatten().map(|(x, y, _)| format!("{},{}", num(*x), num(*y))).collect();
        let _ = write!(svg, r#"<polyline class="chart-line" points="{}"/>"#, coords.join(" "));
    }
    for (column, point) in columns.iter().zip(&points) {
        if let Some((x, y, rate)) = point {
            let _ = write!(
                svg,
                r#"<circle class="chart-dot" cx="{}" cy="{}" r="3"><title>{}: {}% passed</title></circle>"#,
                num(*x),
                num(*y),
                escape(&column.label),
                rate
            );
        }
    }
    close_chart(svg, columns, frame)
}

/// The opening of a column chart: its view box and its accessible name.
fn open_chart(title: &str, frame: Frame) -> String {
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="chart" viewBox="0 0 {w} {h}" role="img" aria-label="{t}" xmlns="http://www.w3.org/2000/svg"><title>{t}</title>"#,
        w = num(frame.width),
        h = num(frame.height),
        t = escape(title),
    );
    svg
}

/// The end of a column chart: the labels of the columns [`labelled`] picks under the axis.
fn close_chart(mut svg: String, columns: &[Column], frame: Frame) -> String {
    for i in labelled(columns.len()) {
        let _ = write!(
            svg,
            r#"<text class="chart-axis" x="{}" y="{}" text-anchor="middle">{}</text>"#,
            num(frame.x_center(i, columns.len())),
            num(frame.height - 8.0),
            escape(&columns[i].label)
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Radius of the donut's ring, in view box units (the view box is 120 × 120).
const DONUT_RADIUS: f64 = 45.0;

/// A donut of one build's outcomes: one arc per non-zero part, drawn as dashes of a circle's stroke starting at
/// twelve o'clock, with the total in the middle. `parts` are `(CSS class, label, count)`.
pub fn donut(title: &str, parts: &[(&str, &str, i64)]) -> String {
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="chart donut" viewBox="0 0 120 120" role="img" aria-label="{t}" xmlns="http://www.w3.org/2000/svg"><title>{t}</title>"#,
        t = escape(title),
    );
    let total: i64 = parts.iter().map(|(_, _, n)| (*n).max(0)).sum();
    let circumference = 2.0 * std::f64::consts::PI * DONUT_RADIUS;
    let _ = write!(svg, r#"<circle class="donut-track" cx="60" cy="60" r="{}"/>"#, num(DONUT_RADIUS));
    let mut offset = 0.0;
    for (class, label, count) in parts.iter().filter(|(_, _, n)| *n > 0) {
        let length = circumference * (*count as f64) / (total as f64);
        let _ = write!(
            svg,
            r#"<circle class="donut-arc {class}" cx="60" cy="60" r="{r}" stroke-dasharray="{len} {rest}" stroke-dashoffset="{off}" transform="rotate(-90 60 60)"><title>{label}: {count}</title></circle>"#,
            r = num(DONUT_RADIUS),
            len = num(length),
            rest = num(circumference - length),
            off = num(-offset),
            label = escape(label),
        );
        offset += length;
    }
    let _ = write!(svg, r#"<text class="donut-total" x="60" y="60" dy="6" text-anchor="middle">{total}</text></svg>"#);
    svg
}

/// The contract's pass rate ([`hub_domain::model::build::pass_rate`]), `None` when there is neither a passed nor a
/// failed test (a chart then draws no point rather than 0 %).
pub fn pass_rate(passed: i64, failed: i64) -> Option<i64> {
    let (passed, failed) = (passed.max(0), failed.max(0));
    (passed + failed > 0).then(|| hub_domain::model::build::pass_rate(passed, failed))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn column(label: &str, passed: i64, failed: i64, skipped: i64) -> Column {
        Column { label: label.to_owned(), passed, failed, skipped }
    }

    /// The `(y, height)` of every `<rect class="{class}"…>` in the markup.
    fn rects(svg: &str, class: &str) -> Vec<(f64, f64)> {
        let attr = |tag: &str, name: &str| -> f64 {
            let start = tag.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
            tag[start..].split('"').next().unwrap().parse().unwrap()
        };
        svg.split("<rect ")
            .skip(1)
            .filter(|tag| tag.starts_with(&format!("class=\"{class}\"")))
            .map(|tag| (attr(tag, "y"), attr(tag, "height")))
            .collect()
    }

    #[test]
    fn count_axes_use_round_steps_and_cover_the_maximum() {
        assert_eq!(count_axis(0), (1, 1));
        assert_eq!(count_axis(1), (1, 1));
        assert_eq!(count_axis(3), (1, 3));
        assert_eq!(count_axis(7), (2, 8));
        assert_eq!(count_axis(10), (5, 10));
        assert_eq!(count_axis(37), (10, 40));
        assert_eq!(count_axis(1234), (500, 1500));
    }

    #[test]
    fn the_value_scale_maps_zero_to_the_baseline_and_the_top_to_the_plot_top() {
        let f = Frame::STANDARD;
        assert_eq!(f.y(0.0, 40.0), f.height - f.bottom);
        assert_eq!(f.y(40.0, 40.0), f.top);
        assert_eq!(f.y(20.0, 40.0), f.top + (f.height - f.top - f.bottom) / 2.0);
        // Out of range values stay inside the plot; an empty axis puts everything on the baseline.
        assert_eq!(f.y(80.0, 40.0), f.top);
        assert_eq!(f.y(5.0, 0.0), f.height - f.bottom);
    }

    #[test]
    fn columns_are_centred_in_equal_slots() {
        let f = Frame::STANDARD;
        let plot = f.width - f.left - f.right;
        assert_eq!(f.x_center(0, 4), f.left + plot / 8.0);
        assert_eq!(f.x_center(3, 4), f.left + plot * 7.0 / 8.0);
        assert_eq!(f.x_center(0, 1), f.left + plot / 2.0);
    }

    #[test]
    fn bars_stack_passed_failed_and_skipped_with_heights_proportional_to_counts() {
        let f = Frame::STANDARD;
        let svg = stacked_bars("trend", &[column("a", 10, 5, 5), column("b", 40, 0, 0)], f);
        // max 40 → axis 0..40 by 10; plot height 180.
        let unit = (f.height - f.top - f.bottom) / 40.0;
        let pass = rects(&svg, "c-pass");
        assert_eq!(pass.len(), 2);
        assert!((pass[0].1 - 10.0 * unit).abs() < 0.11, "{pass:?}");
        assert!((pass[0].0 + pass[0].1 - (f.height - f.bottom)).abs() < 0.11, "passed sits on the baseline");
        assert!((pass[1].0 - f.top).abs() < 0.11, "the tallest bar reaches the top: {pass:?}");
        let fail = rects(&svg, "c-fail");
        assert_eq!(fail.len(), 1, "zero counts draw nothing");
        assert!((fail[0].1 - 5.0 * unit).abs() < 0.11);
        assert!((fail[0].0 + fail[0].1 - pass[0].0).abs() < 0.11, "failed sits on passed");
        let skip = rects(&svg, "c-skip");
        assert!((skip[0].0 + skip[0].1 - fail[0].0).abs() < 0.11, "skipped sits on failed");
        for tick in [">0<", ">10<", ">20<", ">30<", ">40<"] {
            assert!(svg.contains(tick), "{tick} missing: {svg}");
        }
        assert!(!svg.contains(">50<"));
    }

    #[test]
    fn tooltips_and_labels_are_escaped_and_empty_charts_say_so() {
        let svg = stacked_bars("a <b> & c", &[column("<x>", 1, 0, 0)], Frame::STANDARD);
        assert!(svg.contains("aria-label=\"a &lt;b&gt; &amp; c\""));
        assert!(svg.contains("&lt;x&gt;: 1 passed, 0 failed, 0 skipped"));
        assert!(!svg.contains("<x>"));
        let empty = stacked_bars("t", &[column("d", 0, 0, 0)], Frame::STANDARD);
        assert!(empty.contains("No test results"));
        assert!(!empty.contains("<rect"));
    }

    #[test]
    fn pass_rate_lines_break_where_there_is_no_rate() {
        let f = Frame::STANDARD;
        let svg = pass_rate_line(
            "rate",
            &[column("1", 1, 1, 0), column("2", 3, 1, 0), column("3", 0, 0, 4), column("4", 1, 0, 0)],
            f,
        );
        assert_eq!(svg.matches("<polyline").count(), 1, "a single point after the gap draws no line: {svg}");
        assert_eq!(svg.matches("<circle").count(), 3);
        let y50 = num(f.y(50.0, 100.0));
        let y75 = num(f.y(75.0, 100.0));
        assert!(svg.contains(&format!("{},{y50} {},{y75}", num(f.x_center(0, 4)), num(f.x_center(1, 4)))), "{svg}");
        assert!(svg.contains("4: 100% passed"));
    }

    #[test]
    fn donut_arcs_are_proportional_and_follow_each_other_around_the_ring() {
        let svg = donut("outcomes", &[("c-pass", "Passed", 3), ("c-fail", "Failed", 1), ("c-skip", "Skipped", 0)]);
        let circumference = 2.0 * std::f64::consts::PI * DONUT_RADIUS;
        let dashes: Vec<(f64, f64, f64)> = svg
            .split("stroke-dasharray=\"")
            .skip(1)
            .map(|rest| {
                let (dash, after) = rest.split_once('"').unwrap();
                let (len, gap) = dash.split_once(' ').unwrap();
                let off = after.split("stroke-dashoffset=\"").nth(1).unwrap().split('"').next().unwrap();
                (len.parse().unwrap(), gap.parse().unwrap(), off.parse().unwrap())
            })
            .collect();
        assert_eq!(dashes.len(), 2, "zero parts draw no arc: {svg}");
        assert!((dashes[0].0 - circumference * 0.75).abs() < 0.1, "{dashes:?}");
        assert!((dashes[1].0 - circumference * 0.25).abs() < 0.1, "{dashes:?}");
        assert!((dashes[0].0 + dashes[0].1 - circumference).abs() < 0.1, "each dash pattern spans the ring");
        assert_eq!(dashes[0].2, 0.0);
        assert!((dashes[1].2 + dashes[0].0).abs() < 0.1, "the second arc starts where the first ends: {dashes:?}");
        assert!(svg.contains(">4</text>") && svg.contains("<title>Failed: 1</title>"));
        let empty = donut("none", &[("c-pass", "Passed", 0)]);
        assert!(!empty.contains("donut-arc") && empty.contains(">0</text>"));
    }

    #[test]
    fn pass_rates_round_to_the_nearest_percent_and_need_counted_tests() {
        assert_eq!(pass_rate(2, 1), Some(67));
        assert_eq!(pass_rate(1, 2), Some(33));
        assert_eq!(pass_rate(1, 199), Some(1));
        assert_eq!(pass_rate(0, 0), None);
        assert_eq!(pass_rate(5, 0), Some(100));
    }
}
