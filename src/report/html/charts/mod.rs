//! The report's charts, each a function from the view model to an SVG string drawn by plotters'
//! SVG backend. Text is SVG `<text font-family="sans-serif">`, drawn by the viewer, so nothing
//! needs fonts at build or render time. Every time chart shades and names the fault windows with
//! the same helper, and in a comparison the baseline is drawn first, lighter and dashed, so the
//! current run lies on top of it.

use super::view::RunView;
use plotters::coord::ranged1d::{Ranged, ValueFormatter};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

mod dist;
mod time;

pub use dist::{capacity, percentiles, pods};
pub use time::{latency, rate, status, status_color};

const W: u32 = 960;
const H: u32 = 340;
const FONT: &str = "sans-serif";

const OK: RGBColor = RGBColor(46, 160, 67);
const ERROR: RGBColor = RGBColor(214, 39, 40);
const DROPPED: RGBColor = RGBColor(127, 127, 127);
const OTHER: [RGBColor; 5] =
    [RGBColor(255, 160, 30), RGBColor(148, 103, 189), RGBColor(23, 190, 207), RGBColor(140, 86, 75), RGBColor(227, 119, 194)];
const P50: RGBColor = RGBColor(31, 119, 180);
const P90: RGBColor = RGBColor(23, 160, 180);
const P99: RGBColor = RGBColor(255, 127, 14);
const MAX: RGBColor = RGBColor(214, 39, 40);
const SERVICE: RGBColor = RGBColor(44, 160, 44);
const BASE: RGBColor = RGBColor(150, 150, 150);
const FAULT: RGBColor = RGBColor(255, 190, 0);
const INK: RGBColor = RGBColor(34, 34, 34);

/// Why a chart could not be drawn (plotters' errors carry the backend's error type; kept as text).
#[derive(Debug, thiserror::Error)]
#[error("chart `{chart}` could not be drawn: {message}")]
pub struct ChartError {
    pub chart: &'static str,
    pub message: String,
}

/// The colour of a layer of the rate chart: fixed for the common outcomes, else from a palette.
pub fn layer_color(name: &str, index: usize) -> RGBColor {
    match name {
        "ok" => OK,
        "error" => ERROR,
        "dropped" => DROPPED,
        "fallback" => OTHER[0],
        "limited" => OTHER[1],
        _ => OTHER[(index + 2) % OTHER.len()],
    }
}

/// Renders into a string and drops the `xmlns` attribute: inline SVG in HTML needs none, and the
/// page then holds no URL of its own at all.
fn svg(
    chart: &'static str,
    (w, h): (u32, u32),
    draw: impl FnOnce(&DrawingArea<SVGBackend, plotters::coord::Shift>) -> Result<(), String>,
) -> Result<String, ChartError> {
    let mut s = String::new();
    {
        let root = SVGBackend::with_string(&mut s, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| ChartError { chart, message: e.to_string() })?;
        draw(&root).map_err(|message| ChartError { chart, message })?;
        root.present().map_err(|e| ChartError { chart, message: e.to_string() })?;
    }
    Ok(s.replacen(" xmlns=\"http://www.w3.org/2000/svg\"", "", 1))
}

fn plot_err<T: std::fmt::Display>(x: T) -> String {
    x.to_string()
}

/// `12s`, `4:05`, `1:00:00`: seconds for short runs, a clock for long ones.
pub fn clock(t: f64, span: f64) -> String {
    let s = t.round().max(0.0) as u64;
    if span < 600.0 {
        format!("{s}s")
    } else if s < 3600 {
        format!("{}:{:02}", s / 60, s % 60)
    } else {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    }
}

/// Milliseconds as people read them on an axis.
pub fn fmt_ms(v: f64) -> String {
    if v >= 1000.0 {
        format!("{}s", trim(v / 1000.0))
    } else if v >= 1.0 || v == 0.0 {
        format!("{}ms", trim(v))
    } else {
        format!("{}us", trim(v * 1000.0))
    }
}

fn trim(v: f64) -> String {
    let s = if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    };
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// 1/(1-p) as a percentile label: 2 → `50%`, 100 → `99%`, 1000 → `99.9%`.
pub fn percentile_label(x: f64) -> String {
    if x < 1.5 {
        return "0%".into();
    }
    let decimals = ((x.log10() - 1e-9).ceil() - 2.0).max(0.0) as usize;
    format!("{:.*}%", decimals, 100.0 * (1.0 - 1.0 / x))
}

fn span(v: &RunView) -> f64 {
    v.series.last().map_or(1.0, |p| p.t + v.bucket_s as f64).max(1.0)
}

/// Shades each fault window and writes its name at the top: the same on every time chart.
fn shade_faults<'a, DB: DrawingBackend + 'a, Y: Ranged<ValueType = f64>>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<RangedCoordf64, Y>>,
    view: &RunView,
    (y0, y1): (f64, f64),
) -> Result<(), String> {
    for f in &view.faults {
        let (s, end) = f.shaded();
        chart.draw_series(std::iter::once(Rectangle::new([(s, y0), (end.max(s), y1)], FAULT.mix(0.22).filled()))).map_err(plot_err)?;
        chart.draw_series(std::iter::once(PathElement::new(vec![(s, y0), (s, y1)], FAULT.stroke_width(1)))).map_err(plot_err)?;
        chart.draw_series(std::iter::once(Text::new(format!(" {}", f.name), (s, y1), (FONT, 13).into_font().color(&INK)))).map_err(plot_err)?;
    }
    Ok(())
}

fn legend<'a, DB: DrawingBackend + 'a, X: Ranged, Y: Ranged>(chart: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>) -> Result<(), String> {
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BASE)
        .label_font((FONT, 13))
        .draw()
        .map_err(plot_err)
}

/// Whether values spanning [lo, hi] need a log axis to stay readable.
fn wants_log(lo: f64, hi: f64) -> bool {
    lo > 0.0 && hi / lo > 30.0
}

fn bounds(values: impl Iterator<Item = f64>) -> (f64, f64) {
    values.filter(|v| v.is_finite() && *v > 0.0).fold((f64::MAX, 0.0), |(lo, hi), v| (lo.min(v), hi.max(v)))
}

/// The y axis of a latency chart (milliseconds), linear from 0 or log when the range needs it.
fn y_axis_ms(vals: impl Iterator<Item = f64>) -> (f64, f64, bool) {
    let (lo, hi) = bounds(vals);
    if hi == 0.0 {
        return (0.0, 1.0, false);
    }
    if wants_log(lo, hi) {
        (lo * 0.8, hi * 1.5, true)
    } else {
        (0.0, hi * 1.15, false)
    }
}

fn mesh<'a, DB: DrawingBackend + 'a, X, Y>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
    xdesc: &str,
    ydesc: &str,
    xfmt: &dyn Fn(&X::ValueType) -> String,
    yfmt: &dyn Fn(&f64) -> String,
) -> Result<(), String>
where
    X: Ranged + ValueFormatter<X::ValueType>,
    Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    chart
        .configure_mesh()
        .light_line_style(WHITE.mix(0.0))
        .x_desc(xdesc)
        .y_desc(ydesc)
        .x_label_formatter(xfmt)
        .y_label_formatter(yfmt)
        .label_style((FONT, 13))
        .axis_desc_style((FONT, 14))
        .draw()
        .map_err(plot_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_labels_people_read() {
        let labels: Vec<String> = [1.0, 2.0, 10.0, 100.0, 1000.0, 10_000.0, 200.0].map(percentile_label).to_vec();
        assert_eq!(labels, ["0%", "50%", "90%", "99%", "99.9%", "99.99%", "99.5%"]);
        assert_eq!([0.5, 12.0, 150.0, 2500.0].map(fmt_ms), ["500us", "12ms", "150ms", "2.5s"]);
        assert_eq!((clock(30.0, 60.0), clock(754.0, 3600.0), clock(3600.0, 3600.0)), ("30s".into(), "12:34".into(), "1:00:00".into()));
    }
}
