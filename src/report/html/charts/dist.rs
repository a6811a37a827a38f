//! Charts that are not over time: the HDR percentile plot of the whole run (corrected latency and
//! service time, x = 1/(1-p) on a log axis), per-pod rate and p99 bars, and the capacity curve
//! (throughput against p99 with the SLO line and the knee).

use super::*;
use crate::report::html::verify_views::CapacityData;
use plotters::coord::ranged1d::{IntoSegmentedCoord, SegmentValue};

/// Latency by percentile for the whole run: corrected (from the intended start) and service time
/// (from the send), the baseline's corrected curve dashed underneath.
pub fn percentiles(view: &RunView, base: Option<&RunView>) -> Result<String, ChartError> {
    svg("percentiles", (W, H), |root| {
        let curves = [Some(&view.hdr_latency), Some(&view.hdr_service), base.map(|b| &b.hdr_latency)];
        let xmax = curves.iter().flatten().flat_map(|c| c.last()).map(|p| p.0).fold(10.0, f64::max);
        // Log only when the tail is far above the median: the minimum alone would almost always ask for it.
        let median = curves.iter().flatten().flat_map(|c| c.iter().find(|p| p.0 >= 2.0)).map(|p| p.1).fold(f64::MAX, f64::min);
        let (lo, hi) = bounds(curves.iter().flatten().flat_map(|c| c.iter().map(|p| p.1)));
        let (y0, y1, log) = if hi == 0.0 {
            (0.0, 1.0, false)
        } else if wants_log(median, hi) {
            (lo * 0.8, hi * 1.5, true)
        } else {
            (0.0, hi * 1.15, false)
        };
        let decades = xmax.log10().round() as i32;
        let keys: Vec<f64> = [1.0, 2.0].into_iter().chain((1..=decades).map(|d| 10f64.powi(d))).collect();
        let mut b = ChartBuilder::on(root);
        b.margin(12).margin_right(24).x_label_area_size(36).y_label_area_size(64);
        let x = (1.0..xmax).log_scale().with_key_points(keys);
        if log {
            let mut chart = b.build_cartesian_2d(x, (y0..y1).log_scale()).map_err(plot_err)?;
            mesh(&mut chart, "percentile", "latency (ms, log scale)", &|x| percentile_label(*x), &|v| fmt_ms(*v))?;
            curves_on(&mut chart, view, base)
        } else {
            let mut chart = b.build_cartesian_2d(x, y0..y1).map_err(plot_err)?;
            mesh(&mut chart, "percentile", "latency (ms)", &|x| percentile_label(*x), &|v| fmt_ms(*v))?;
            curves_on(&mut chart, view, base)
        }
    })
}

fn curves_on<'a, DB: DrawingBackend + 'a, X: Ranged<ValueType = f64>, Y: Ranged<ValueType = f64>>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
    view: &RunView,
    base: Option<&RunView>,
) -> Result<(), String> {
    let clean = |c: &[(f64, f64)]| c.iter().copied().filter(|p| p.1 > 0.0).collect::<Vec<_>>();
    if let Some(b) = base {
        chart
            .draw_series(DashedLineSeries::new(clean(&b.hdr_latency), 5, 4, BASE.stroke_width(2)))
            .map_err(plot_err)?
            .label(format!("baseline latency ({})", b.label))
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 14, y)], BASE.stroke_width(2)));
    }
    chart
        .draw_series(LineSeries::new(clean(&view.hdr_service), SERVICE.stroke_width(2)))
        .map_err(plot_err)?
        .label("service time (from the send)")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 14, y)], SERVICE.stroke_width(2)));
    chart
        .draw_series(LineSeries::new(clean(&view.hdr_latency), P50.stroke_width(2)))
        .map_err(plot_err)?
        .label("latency (from the intended start)")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 14, y)], P50.stroke_width(2)));
    legend(chart)
}

/// Per-pod completion rate and p99, side by side, one row per pod: imbalance shows as uneven bars.
pub fn pods(view: &RunView) -> Result<String, ChartError> {
    let n = view.pods.len().max(1);
    let h = (90 + 26 * n as u32).max(160);
    svg("pods", (W, h), |root| {
        let (left, right) = root.split_horizontally(W / 2);
        let names: Vec<String> = view.pods.iter().map(|p| p.name.clone()).collect();
        let mean = view.pods.iter().map(|p| p.rps).sum::<f64>() / n as f64;
        bars(&left, &names, &view.pods.iter().map(|p| p.rps).collect::<Vec<_>>(), "completions per second", OK, Some(mean), &|v| {
            format!("{v:.0}")
        })?;
        bars(&right, &names, &view.pods.iter().map(|p| p.p99_ms).collect::<Vec<_>>(), "p99 latency", P99, None, &|v| fmt_ms(*v))
    })
}

#[allow(clippy::too_many_arguments)]
fn bars<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    names: &[String],
    values: &[f64],
    desc: &str,
    color: RGBColor,
    mean: Option<f64>,
    fmt: &dyn Fn(&f64) -> String,
) -> Result<(), String> {
    let n = names.len() as i32;
    let xmax = values.iter().copied().fold(0.0, f64::max).max(1e-3) * 1.2;
    let label_w = names.iter().map(|s| s.chars().count()).max().unwrap_or(4).clamp(4, 24) as u32 * 8 + 12;
    let mut chart = ChartBuilder::on(area)
        .margin(10)
        .margin_right(20)
        .x_label_area_size(36)
        .y_label_area_size(label_w)
        .build_cartesian_2d(0.0..xmax, (0..n.max(1)).into_segmented())
        .map_err(plot_err)?;
    let name_of = |v: &SegmentValue<i32>| match v {
        SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => names.get(*i as usize).cloned().unwrap_or_default(),
        SegmentValue::Last => String::new(),
    };
    chart
        .configure_mesh()
        .disable_y_mesh()
        .light_line_style(WHITE.mix(0.0))
        .x_desc(desc)
        .x_labels(5)
        .y_labels(names.len().max(1))
        .x_label_formatter(fmt)
        .y_label_formatter(&name_of)
        .label_style((FONT, 13))
        .axis_desc_style((FONT, 14))
        .draw()
        .map_err(plot_err)?;
    chart
        .draw_series(values.iter().enumerate().map(|(i, v)| {
            let mut r =
                Rectangle::new([(0.0, SegmentValue::Exact(i as i32)), (*v, SegmentValue::Exact(i as i32 + 1))], color.mix(0.85).filled());
            r.set_margin(4, 4, 0, 0);
            r
        }))
        .map_err(plot_err)?;
    chart
        .draw_series(values.iter().enumerate().map(|(i, v)| {
            Text::new(
                format!(" {}", fmt(v)),
                (*v, SegmentValue::CenterOf(i as i32)),
                (FONT, 12).into_font().color(&INK).pos(plotters::style::text_anchor::Pos::new(
                    plotters::style::text_anchor::HPos::Left,
                    plotters::style::text_anchor::VPos::Center,
                )),
            )
        }))
        .map_err(plot_err)?;
    if let Some(m) = mean {
        chart
            .draw_series(DashedLineSeries::new(vec![(m, SegmentValue::Exact(0)), (m, SegmentValue::Last)], 5, 4, INK.stroke_width(1)))
            .map_err(plot_err)?;
    }
    Ok(())
}

/// Throughput against p99 for each step of a capacity search, with the SLO line and the knee.
pub fn capacity(c: &CapacityData) -> Result<String, ChartError> {
    svg("capacity", (W, H), |root| {
        let xmax = c.steps.iter().map(|s| s.rate.max(s.achieved_rps.unwrap_or(0.0))).fold(1.0, f64::max) * 1.1;
        let slo = c.slo_p99_us.map(|u| u as f64 / 1000.0);
        let (y0, y1, log) = y_axis_ms(c.steps.iter().map(|s| s.p99_us as f64 / 1000.0).chain(slo));
        let mut b = ChartBuilder::on(root);
        b.margin(12).margin_right(24).x_label_area_size(36).y_label_area_size(64);
        if log {
            let mut chart = b.build_cartesian_2d(0.0..xmax, (y0..y1).log_scale()).map_err(plot_err)?;
            mesh(&mut chart, "offered rate (requests per second)", "p99 latency (ms, log scale)", &|x| format!("{x:.0}"), &|v| fmt_ms(*v))?;
            capacity_on(&mut chart, c, (y0, y1), slo)
        } else {
            let mut chart = b.build_cartesian_2d(0.0..xmax, y0..y1).map_err(plot_err)?;
            mesh(&mut chart, "offered rate (requests per second)", "p99 latency (ms)", &|x| format!("{x:.0}"), &|v| fmt_ms(*v))?;
            capacity_on(&mut chart, c, (y0, y1), slo)
        }
    })
}

fn capacity_on<'a, DB: DrawingBackend + 'a, Y: Ranged<ValueType = f64>>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<RangedCoordf64, Y>>,
    c: &CapacityData,
    (y0, y1): (f64, f64),
    slo: Option<f64>,
) -> Result<(), String> {
    let small = (FONT, 13).into_font().color(&INK);
    if let Some(s) = slo {
        let xmax = chart.x_range().end;
        chart
            .draw_series(DashedLineSeries::new(vec![(0.0, s), (xmax, s)], 8, 4, ERROR.stroke_width(2)))
            .map_err(plot_err)?
            .label(format!("SLO: p99 < {}", fmt_ms(s)))
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 14, y)], ERROR.stroke_width(2)));
    }
    if let Some(k) = c.knee_rps {
        chart.draw_series(DashedLineSeries::new(vec![(k, y0.max(1e-9)), (k, y1)], 4, 4, INK.stroke_width(1))).map_err(plot_err)?;
        chart.draw_series(std::iter::once(Text::new(format!(" knee {k:.0} rps"), (k, y1), small.clone()))).map_err(plot_err)?;
    }
    let pts: Vec<(f64, f64)> = c.steps.iter().map(|s| (s.rate, (s.p99_us as f64 / 1000.0).max(1e-3))).collect();
    // The line joins the steps by rate, not in search order (a bisection would zig-zag).
    let mut by_rate = pts.clone();
    by_rate.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
    chart
        .draw_series(LineSeries::new(by_rate, P50.stroke_width(2)))
        .map_err(plot_err)?
        .label("p99 at each step (green: passed, red: failed)")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 14, y)], P50.stroke_width(2)));
    chart
        .draw_series(c.steps.iter().zip(&pts).map(|(s, p)| Circle::new(*p, 5, if s.passed { OK.filled() } else { ERROR.filled() })))
        .map_err(plot_err)?;
    legend(chart)
}
