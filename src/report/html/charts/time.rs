//! Charts over time: offered against achieved rate with outcomes stacked, and latency
//! percentiles per second. Both shade the fault windows and draw a baseline under the run.

use super::*;
use crate::report::html::status::StatusView;
use crate::report::html::view::Point;

/// Offered (target) against achieved rate, completions stacked by outcome with drops on top.
pub fn rate(view: &RunView, base: Option<&RunView>) -> Result<String, ChartError> {
    svg("rate", (W, H), |root| {
        let top = |v: &RunView| v.series.iter().map(|p| p.target.max(p.completed + p.dropped).max(p.sent)).fold(1.0, f64::max);
        let ymax = top(view).max(base.map_or(0.0, top)) * 1.12;
        let xmax = span(view).max(base.map_or(0.0, span));
        let mut chart = per_second_axes(root, xmax, ymax, "requests per second")?;
        shade_faults(&mut chart, view, (0.0, ymax))?;
        let limited = crate::report::html::view::limited_spans(&view.series, view.bucket_s);
        for (i, (s, e)) in limited.iter().enumerate() {
            let band = chart.draw_series(std::iter::once(Rectangle::new([(*s, 0.0), (*e, ymax)], LIMITED.mix(0.18).filled()))).map_err(plot_err)?;
            if i == 0 {
                band.label("connection-limited").legend(|(x, y)| Rectangle::new([(x, y - 6), (x + 14, y + 6)], LIMITED.mix(0.35).filled()));
            }
        }
        let mut lower = vec![0.0; view.series.len()];
        let layers = view.groups.iter().enumerate().map(|(i, g)| (g.as_str(), i)).chain([("dropped", usize::MAX)]);
        for (name, i) in layers {
            let value = |p: &Point| if i == usize::MAX { p.dropped } else { p.stack[i] };
            if view.series.iter().all(|p| value(p) == 0.0) && name != "ok" {
                continue;
            }
            let upper: Vec<f64> = view.series.iter().zip(&lower).map(|(p, l)| l + value(p)).collect();
            let ts: Vec<f64> = view.series.iter().map(|p| p.t).collect();
            let mut pts = step_outline(&ts, &upper, view.bucket_s as f64);
            pts.extend(step_outline(&ts, &lower, view.bucket_s as f64).into_iter().rev());
            let c = layer_color(name, i);
            chart
                .draw_series(std::iter::once(Polygon::new(pts, c.mix(0.8).filled())))
                .map_err(plot_err)?
                .label(name)
                .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 14, y + 6)], c.mix(0.8).filled()));
            lower = upper;
        }
        if let Some(b) = base {
            let pts: Vec<(f64, f64)> = b.series.iter().map(|p| (p.t, p.completed)).collect();
            chart
                .draw_series(DashedLineSeries::new(pts, 6, 4, INK.mix(0.55).stroke_width(2)))
                .map_err(plot_err)?
                .label(format!("baseline achieved ({})", b.label))
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 14, y)], INK.mix(0.55).stroke_width(2)));
        }
        let target = offered_steps(&view.series, view.bucket_s as f64, view.summary.duration_s);
        chart
            .draw_series(DashedLineSeries::new(target, 8, 4, INK.stroke_width(2)))
            .map_err(plot_err)?
            .label("target (offered)")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 14, y)], INK.stroke_width(2)));
        legend(&mut chart)
    })
}

/// The offered rate as steps, each point's held over its bucket as the achieved layers are, so a
/// bar and its target line up; it ends where the schedule ended. (A line through the buckets'
/// starts sloped down to the zero of the answers-only second after the schedule, as if the
/// offered load had ramped down over the last second.)
fn offered_steps(series: &[Point], bucket_s: f64, end: f64) -> Vec<(f64, f64)> {
    let (ts, values): (Vec<f64>, Vec<f64>) = series.iter().filter(|p| p.t < end - 1e-9).map(|p| (p.t, p.target)).unzip();
    let mut pts = step_outline(&ts, &values, bucket_s);
    // A last bucket longer than what is left of the schedule stops at its end.
    if let Some(last) = pts.last_mut() {
        last.0 = last.0.min(end);
    }
    pts
}

/// The axes of a per-second count over the run's time: time on x, a count per second from 0 on y
/// (the rate and status charts, drawn in the same frame so they line up on the page).
fn per_second_axes<'a, 'b>(
    root: &'a DrawingArea<SVGBackend<'b>, plotters::coord::Shift>,
    xmax: f64,
    ymax: f64,
    y_desc: &str,
) -> Result<ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>, String> {
    let mut chart = ChartBuilder::on(root)
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(64)
        .build_cartesian_2d(0.0..xmax, 0.0..ymax)
        .map_err(plot_err)?;
    chart
        .configure_mesh()
        .light_line_style(WHITE.mix(0.0))
        .x_desc("time")
        .y_desc(y_desc)
        .x_labels(time_labels(xmax))
        .x_label_formatter(&|t| clock(*t, xmax))
        .y_label_formatter(&|v| format!("{v:.0}"))
        .label_style((FONT, 13))
        .axis_desc_style((FONT, 14))
        .draw()
        .map_err(plot_err)?;
    Ok(chart)
}

/// Responses per second stacked by status code (`status.csv`), codes ascending from the bottom
/// and `other` on top, each held for its whole second like the rate chart's layers.
pub fn status(view: &RunView, s: &StatusView) -> Result<String, ChartError> {
    svg("status", (W, H), |root| {
        let ymax = s.points.iter().map(|p| p.values.iter().sum::<f64>()).fold(1.0, f64::max) * 1.12;
        let xmax = span(view).max(s.points.last().map_or(1.0, |p| p.t + s.bucket_s as f64));
        let mut chart = per_second_axes(root, xmax, ymax, "responses per second")?;
        shade_faults(&mut chart, view, (0.0, ymax))?;
        let ts: Vec<f64> = s.points.iter().map(|p| p.t).collect();
        let mut lower = vec![0.0; s.points.len()];
        let mut nth = [0usize; 10];
        for (i, series) in s.series.iter().enumerate() {
            let upper: Vec<f64> = s.points.iter().zip(&lower).map(|(p, l)| l + p.values[i]).collect();
            let mut pts = step_outline(&ts, &upper, s.bucket_s as f64);
            pts.extend(step_outline(&ts, &lower, s.bucket_s as f64).into_iter().rev());
            let class = series.class() as usize;
            let c = status_color(series.class(), nth[class.min(9)]);
            nth[class.min(9)] += 1;
            chart
                .draw_series(std::iter::once(Polygon::new(pts, c.mix(0.85).filled())))
                .map_err(plot_err)?
                .label(series.name.as_str())
                .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 14, y + 6)], c.mix(0.85).filled()));
            lower = upper;
        }
        legend(&mut chart)
    })
}

/// The colour of a status code series: green 2xx, blue 3xx, orange 4xx, red 5xx, grey for `other`
/// (class 0) and anything else; the class's further codes lighter, so a 502 and a 503 differ.
pub fn status_color(class: u16, nth: usize) -> RGBColor {
    let RGBColor(r, g, b) = match class {
        2 => OK,
        3 => P50,
        4 => OTHER[0],
        5 => ERROR,
        _ => DROPPED,
    };
    let k = (nth.min(4) as f64) * 0.17;
    let light = |v: u8| (v as f64 + (255.0 - v as f64) * k).round() as u8;
    RGBColor(light(r), light(g), light(b))
}

/// Latency percentiles over time: p50, p90, p99, max (log scale when the range needs it).
pub fn latency(view: &RunView, base: Option<&RunView>) -> Result<String, ChartError> {
    svg("latency", (W, H), |root| {
        let all = |v: &RunView| v.series.iter().flat_map(|p| [p.p50, p.p90, p.p99, p.max]).flatten().collect::<Vec<f64>>();
        let mut vals = all(view);
        vals.extend(view.series.iter().filter_map(Point::limited_wait));
        if let Some(b) = base {
            vals.extend(all(b));
        }
        let (lo, hi) = bounds(vals.into_iter());
        let (lo, hi) = if hi == 0.0 { (0.1, 1.0) } else { (lo, hi) };
        let xmax = span(view).max(base.map_or(0.0, span));
        let builder = |root| {
            let mut b = ChartBuilder::on(root);
            b.margin(12).x_label_area_size(36).y_label_area_size(64);
            b
        };
        if wants_log(lo, hi) {
            let mut chart = builder(root).build_cartesian_2d(0.0..xmax, (lo * 0.8..hi * 1.5).log_scale()).map_err(plot_err)?;
            latency_lines(&mut chart, view, base, xmax, (lo * 0.8, hi * 1.5), "latency (ms, log scale)")
        } else {
            let mut chart = builder(root).build_cartesian_2d(0.0..xmax, 0.0..hi * 1.15).map_err(plot_err)?;
            latency_lines(&mut chart, view, base, xmax, (0.0, hi * 1.15), "latency (ms)")
        }
    })
}

fn latency_lines<'a, DB: DrawingBackend + 'a, Y>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<RangedCoordf64, Y>>,
    view: &RunView,
    base: Option<&RunView>,
    xmax: f64,
    yr: (f64, f64),
    ydesc: &str,
) -> Result<(), String>
where
    Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    chart
        .configure_mesh()
        .light_line_style(WHITE.mix(0.0))
        .x_desc("time")
        .y_desc(ydesc)
        .x_labels(time_labels(xmax))
        .x_label_formatter(&|t| clock(*t, xmax))
        .y_label_formatter(&|v| fmt_ms(*v))
        .label_style((FONT, 13))
        .axis_desc_style((FONT, 14))
        .draw()
        .map_err(plot_err)?;
    shade_faults(chart, view, yr)?;
    if let Some(b) = base {
        for (name, get) in [("p50", (|p: &Point| p.p50) as fn(&Point) -> Option<f64>), ("p99", |p: &Point| p.p99)] {
            let mut first = true;
            for seg in segments(&b.series, get) {
                let s = chart.draw_series(DashedLineSeries::new(seg, 5, 4, BASE.stroke_width(2))).map_err(plot_err)?;
                if std::mem::take(&mut first) {
                    s.label(format!("baseline {name}")).legend(|(x, y)| PathElement::new(vec![(x, y), (x + 14, y)], BASE.stroke_width(2)));
                }
            }
        }
    }
    let lines: [(&str, RGBColor, fn(&Point) -> Option<f64>); 4] =
        [("max", MAX, |p| p.max), ("p99", P99, |p| p.p99), ("p90", P90, |p| p.p90), ("p50", P50, |p| p.p50)];
    for (name, color, get) in lines {
        let mut first = true;
        for seg in segments(&view.series, get) {
            let s = chart.draw_series(LineSeries::new(seg, color.stroke_width(2))).map_err(plot_err)?;
            if std::mem::take(&mut first) {
                s.label(name).legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 14, y)], color.stroke_width(2)));
            }
        }
    }
    let mut first = true;
    for seg in segments(&view.series, Point::limited_wait) {
        let s = chart.draw_series(DashedLineSeries::new(seg, 3, 3, LIMITED.stroke_width(2))).map_err(plot_err)?;
        if std::mem::take(&mut first) {
            s.label("connection wait p99").legend(|(x, y)| PathElement::new(vec![(x, y), (x + 14, y)], LIMITED.stroke_width(2)));
        }
    }
    legend(chart)
}

/// Connection-limited seconds (band on the rate chart) and the wait for a connection (latency chart).
const LIMITED: RGBColor = RGBColor(214, 120, 0);

/// How many ticks the time axis may have: at most one a second, so a short run's labels (whole
/// seconds) never repeat, and at most 10.
pub fn time_labels(xmax: f64) -> usize {
    (xmax.floor().max(1.0) as usize + 1).min(10)
}

/// The outline of a layer drawn step-wise: each point's value held for its whole bucket (the
/// per-second figures are counts over [t, t + width)), so a change shows where it happened — a
/// fault from second 5 rises at 5, not along a slope from 4.
pub fn step_outline(ts: &[f64], values: &[f64], width: f64) -> Vec<(f64, f64)> {
    ts.iter().zip(values).flat_map(|(t, v)| [(*t, *v), (t + width, *v)]).collect()
}

/// Runs of consecutive points that have a value (a second with no completion breaks the line).
fn segments(series: &[Point], get: fn(&Point) -> Option<f64>) -> Vec<Vec<(f64, f64)>> {
    let mut out: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut cur = Vec::new();
    for p in series {
        match get(p).filter(|v| *v > 0.0) {
            Some(v) => cur.push((p.t, v)),
            None if !cur.is_empty() => out.push(std::mem::take(&mut cur)),
            None => {}
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn areas_change_where_the_second_starts() {
        let pts = step_outline(&[3.0, 4.0, 5.0], &[0.0, 0.0, 10.0], 1.0);
        assert_eq!(pts, [(3.0, 0.0), (4.0, 0.0), (4.0, 0.0), (5.0, 0.0), (5.0, 10.0), (6.0, 10.0)]);
        // Nothing above zero before second 5: the area does not start a second early.
        assert!(pts.iter().filter(|p| p.0 < 5.0).all(|p| p.1 == 0.0));
        assert_eq!(step_outline(&[0.0, 3.0], &[1.0, 2.0], 3.0), [(0.0, 1.0), (3.0, 1.0), (3.0, 2.0), (6.0, 2.0)], "buckets of 3 s");
    }

    #[test]
    fn the_offered_rate_is_held_over_each_second_and_ends_with_the_schedule() {
        let p = |t: f64, target: f64| Point { t, target, ..Point::default() };
        // 12 s planned; second 12 holds only answers (target 0) and must not pull the line down.
        let series = [p(10.0, 290.0), p(11.0, 308.0), p(12.0, 0.0)];
        assert_eq!(offered_steps(&series, 1.0, 12.0), [(10.0, 290.0), (11.0, 290.0), (11.0, 308.0), (12.0, 308.0)]);
        // Buckets of 5 s over a 12 s schedule: the last one stops at 12 s.
        let long = [p(0.0, 100.0), p(5.0, 100.0), p(10.0, 100.0)];
        assert_eq!(offered_steps(&long, 5.0, 12.0).last(), Some(&(12.0, 100.0)));
        // A pause inside the schedule (a zero-rate stage) is drawn at zero.
        let pause = [p(0.0, 50.0), p(1.0, 0.0), p(2.0, 50.0)];
        assert!(offered_steps(&pause, 1.0, 3.0).contains(&(1.0, 0.0)));
    }

    #[test]
    fn status_classes_have_their_colours_and_codes_of_one_class_differ() {
        assert_eq!(status_color(2, 0), OK);
        assert_eq!(status_color(5, 0), ERROR);
        assert_eq!(status_color(0, 0), DROPPED);
        assert_ne!(status_color(5, 0), status_color(5, 1));
        assert_eq!(status_color(5, 9), status_color(5, 4), "shades stop before white");
    }

    #[test]
    fn time_ticks_are_at_most_one_a_second() {
        assert_eq!([1.0, 2.0, 3.5, 9.0, 60.0, 3600.0].map(time_labels), [2, 3, 4, 10, 10, 10]);
    }
}
