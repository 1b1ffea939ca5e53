//! The SVG chart: closed-loop throughput and open-loop p99 per mode.

use std::path::Path;

use crate::markdown::{f_int, f_ms};
use crate::report::{ModeReport, RunReport, is_disturbed};

/// Two bar charts side by side: closed-loop req/s and open-loop p99.
pub fn chart(path: &Path, r: &RunReport) -> Result<(), String> {
    use plotters::prelude::*;

    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    }
    let names: Vec<String> = r.modes.iter().map(|m| m.mode.clone()).collect();
    let ok = |m: &ModeReport| m.status == "ok";
    let marks = |closed: bool| -> Vec<bool> {
        r.modes
            .iter()
            .map(|m| {
                let p = if closed { &m.closed } else { &m.open };
                p.as_ref().is_some_and(is_disturbed)
            })
            .collect()
    };
    let rps: Vec<Option<f64>> = r
        .modes
        .iter()
        .map(|m| {
            m.closed
                .as_ref()
                .filter(|_| ok(m))
                .map(|c| c.throughput_rps)
        })
        .collect();
    let p99: Vec<Option<f64>> = r
        .modes
        .iter()
        .map(|m| m.open.as_ref().filter(|_| ok(m)).map(|o| o.latency.p99_ms))
        .collect();
    let root = SVGBackend::new(path, (1100, 460)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let (left, right) = root.split_horizontally(550);
    let rate = r.settings.rate.map(f_int).unwrap_or_else(|| "n/a".into());
    let panels = [
        Panel {
            values: &rps,
            disturbed: marks(true),
            caption: format!(
                "Peak throughput, closed loop ({} VUs)",
                r.settings.concurrency
            ),
            unit: "req/s",
            color: RGBColor(46, 110, 180),
            integer: true,
        },
        Panel {
            values: &p99,
            disturbed: marks(false),
            caption: format!("p99 latency at {rate} req/s, open loop"),
            unit: "ms",
            color: RGBColor(200, 90, 40),
            integer: false,
        },
    ];
    let statuses: Vec<String> = r.modes.iter().map(|m| m.status.clone()).collect();
    for (area, panel) in [&left, &right].into_iter().zip(panels) {
        draw_panel(area, &panel, &names, &statuses)?;
    }
    root.present().map_err(|e| e.to_string())?;
    Ok(())
}

struct Panel<'a> {
    values: &'a [Option<f64>],
    /// Phases disturbed by other processes get a ⚠ after their value.
    disturbed: Vec<bool>,
    caption: String,
    unit: &'static str,
    color: plotters::style::RGBColor,
    integer: bool,
}

fn draw_panel(
    area: &plotters::drawing::DrawingArea<
        plotters::backend::SVGBackend<'_>,
        plotters::coord::Shift,
    >,
    p: &Panel<'_>,
    names: &[String],
    statuses: &[String],
) -> Result<(), String> {
    use plotters::prelude::*;
    use plotters::style::text_anchor::{HPos, Pos, VPos};

    let n = names.len().max(1);
    let fmt = |v: f64| if p.integer { f_int(v) } else { f_ms(v) };
    // One outlier (an overloaded mode's p99 in seconds) would flatten every
    // other bar: the axis stops at 4x the median, and taller bars are cut
    // there with their true value and an arrow on top.
    let mut present: Vec<f64> = p.values.iter().flatten().cloned().collect();
    present.sort_by(f64::total_cmp);
    let max = present.last().copied().unwrap_or(0.0);
    let median = present.get(present.len() / 2).copied().unwrap_or(0.0);
    let top = if median > 0.0 {
        max.min(median * 4.0)
    } else {
        max
    };
    let ymax = if top > 0.0 { top * 1.18 } else { 1.0 };
    let shown = |v: f64| v.min(top);
    let mut chart = ChartBuilder::on(area)
        .caption(&p.caption, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(64)
        // A segmented 0..k has k + 1 segments.
        .build_cartesian_2d((0..n.saturating_sub(1).max(1)).into_segmented(), 0f64..ymax)
        .map_err(|e| e.to_string())?;
    let label = |v: &SegmentValue<usize>| match v {
        SegmentValue::CenterOf(i) => names.get(*i).cloned().unwrap_or_default(),
        _ => String::new(),
    };
    let ylabel = |v: &f64| fmt(*v);
    chart
        .configure_mesh()
        .disable_x_mesh()
        .max_light_lines(2)
        .x_labels(n)
        .x_label_formatter(&label)
        .y_label_formatter(&ylabel)
        .y_desc(p.unit)
        .label_style(("sans-serif", 13))
        .draw()
        .map_err(|e| e.to_string())?;
    chart
        .draw_series(p.values.iter().enumerate().filter_map(|(i, v)| {
            v.map(|v| {
                let mut bar = Rectangle::new(
                    [
                        (SegmentValue::Exact(i), 0.0),
                        (SegmentValue::Exact(i + 1), shown(v)),
                    ],
                    p.color.filled(),
                );
                bar.set_margin(0, 0, 14, 14);
                bar
            })
        }))
        .map_err(|e| e.to_string())?;
    let style = ("sans-serif", 13)
        .into_font()
        .color(&BLACK)
        .pos(Pos::new(HPos::Center, VPos::Bottom));
    chart
        .draw_series(p.values.iter().enumerate().map(|(i, v)| {
            let (text, y) = match v {
                Some(v) => (
                    format!(
                        "{}{}{}",
                        if *v > top { "↑ " } else { "" },
                        fmt(*v),
                        if p.disturbed.get(i).copied().unwrap_or(false) {
                            " ⚠"
                        } else {
                            ""
                        }
                    ),
                    shown(*v),
                ),
                None => (
                    statuses
                        .get(i)
                        .filter(|s| *s != "ok")
                        .cloned()
                        .unwrap_or_else(|| "n/a".into()),
                    0.0,
                ),
            };
            Text::new(
                text,
                (SegmentValue::CenterOf(i), y + ymax * 0.02),
                style.clone(),
            )
        }))
        .map_err(|e| e.to_string())?;
    Ok(())
}
