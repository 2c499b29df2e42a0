//! Drawing the timeline as SVG with `plotters`: the header (title and legend), the time
//! axis, and one lane per node.
//!
//! It only draws what `read` gathered into a [`Timeline`]; it reads no log and judges nothing.

use super::{CsEnd, Lane, Timeline};
use super::{CLEAN_RESTART_COLOR, CS_COLOR, KILL_COLOR, LABEL_COLOR, LABEL_FONT, LANE_COLOR};
use super::{FONT, FOOTER, HEADER, LANE_HEIGHT, REVOTE_COLOR, WAIT_COLOR, WIDTH};
use maekawa_core::id::NodeId;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::collections::BTreeMap;

impl Timeline {
    /// The SVG text of the picture, or what plotters said when it failed.
    pub(super) fn draw(&self) -> Result<String, DrawingAreaErrorKind<std::io::Error>> {
        let n = self.lanes.len();
        let height = HEADER + FOOTER + LANE_HEIGHT * n as u32;
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
            self.draw_on(&root)?;
            root.present()?;
        }
        Ok(svg)
    }

    fn draw_on(
        &self,
        root: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    ) -> Result<(), DrawingAreaErrorKind<std::io::Error>> {
        root.fill(&WHITE)?;
        let (header, body) = root.split_vertically(HEADER);
        draw_header(&header, &self.title())?;

        let n = self.lanes.len();
        // The whole run: at least 1 ms wide, and 2% of room after the last event. A window:
        // exactly its edges, so that cut intervals end at the frame.
        let (x_min, x_max) = if self.windowed {
            (self.summary.from_ms, self.summary.to_ms)
        } else {
            (0.0, self.summary.span_ms.max(1.0) * 1.02)
        };
        let mut chart = ChartBuilder::on(&body)
            .margin_left(10)
            .margin_right(25)
            .margin_top(5)
            .x_label_area_size(45)
            .y_label_area_size(70)
            .build_cartesian_2d(x_min..x_max, -0.5f64..(n as f64 - 0.5))?;
        // Seconds, as `--from`/`--to` take them, with no more decimals than the ticks need.
        let tick = |v: &f64| {
            let t = format!("{:.3}", v / 1000.0);
            let t = t.trim_end_matches('0').trim_end_matches('.');
            if t == "-0" {
                "0".to_string()
            } else {
                t.to_string()
            }
        };
        let labels = self.entry_labels(&chart);
        let desc = match (
            labels.is_empty(),
            self.lanes.values().any(|l| l.starts.len() > 1),
        ) {
            (true, _) => "seconds since the run's first event".to_string(),
            (false, false) => "seconds since the run's first event; a bar's number K: maekawa report --node N --entry K".to_string(),
            (false, true) => "seconds since the run's first event; a bar's number K, in incarnation I: maekawa report --node N --entry K --incarnation I".to_string(),
        };
        chart
            .configure_mesh()
            .x_label_formatter(&tick)
            .disable_y_mesh()
            .y_labels(0)
            .x_labels(12)
            .x_desc(desc)
            .label_style((FONT, 15))
            .axis_desc_style((FONT, 17))
            .light_line_style(RGBColor(0xF0, 0xF0, 0xF0))
            .draw()?;

        let plot_px = chart.plotting_area().get_pixel_range().0;
        let g = Frame {
            x_min,
            x_max,
            // One pixel in ms.
            px: (x_max - x_min) / f64::from((plot_px.end - plot_px.start).max(1)),
        };

        // Node 0 on top.
        for (i, (node, lane)) in self.lanes.iter().enumerate() {
            let y = (n - 1 - i) as f64;
            let lane_at = LaneAt {
                node: *node,
                y,
                lowest: i + 1 == n,
            };
            draw_lane(root, &mut chart, &g, lane_at, lane, labels.get(node))?;
        }
        Ok(())
    }
}

/// The time axis as drawn: its edges, and one pixel in ms.
struct Frame {
    x_min: f64,
    x_max: f64,
    px: f64,
}

impl Frame {
    /// An interval shorter than a pixel widened to one, so that it stays visible (and kept
    /// inside the frame).
    fn widen(&self, (s, e): (f64, f64)) -> (f64, f64) {
        let s = s.min(self.x_max - self.px);
        (s, e.max(s + self.px))
    }
}

/// Where a lane is drawn.
#[derive(Clone, Copy)]
struct LaneAt {
    node: NodeId,
    /// Its centre on the y axis.
    y: f64,
    /// The bottom lane (no separator under it).
    lowest: bool,
}

/// The chart the lanes are drawn on: ms across, lanes up.
type Chart<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// One node's lane: waits, CS bars (killed ones outlined), restarts, re-votes, entry
/// numbers, and its name (with the incarnation it starts with when it has several).
fn draw_lane(
    root: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    chart: &mut Chart<'_, '_>,
    g: &Frame,
    at: LaneAt,
    lane: &Lane,
    labels: Option<&Vec<(f64, u64)>>,
) -> Result<(), DrawingAreaErrorKind<std::io::Error>> {
    let LaneAt { y, lowest, .. } = at;
    if !lowest {
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(g.x_min, y - 0.5), (g.x_max, y - 0.5)],
            LANE_COLOR,
        )))?;
    }
    chart.draw_series(lane.waits.iter().map(|&w| {
        let (s, e) = g.widen(w);
        Rectangle::new([(s, y - 0.2), (e, y + 0.2)], WAIT_COLOR.filled())
    }))?;
    chart.draw_series(lane.cs.iter().map(|&(s, e, _)| {
        let (s, e) = g.widen((s, e));
        Rectangle::new([(s, y - 0.32), (e, y + 0.32)], CS_COLOR.filled())
    }))?;
    chart.draw_series(
        lane.cs
            .iter()
            .filter(|c| matches!(c.2, CsEnd::Killed | CsEnd::KilledLater))
            .map(|&(s, e, _)| {
                let (s, e) = g.widen((s, e));
                Rectangle::new([(s, y - 0.36), (e, y + 0.36)], KILL_COLOR)
            }),
    )?;
    chart.draw_series(
        lane.cs
            .iter()
            .filter(|c| c.2 == CsEnd::Killed)
            .map(|&(_, e, _)| Cross::new((e, y), 5, KILL_COLOR.stroke_width(2))),
    )?;
    chart.draw_series(lane.restarts.iter().map(|&t| {
        PathElement::new(
            vec![(t, y - 0.45), (t, y + 0.45)],
            KILL_COLOR.stroke_width(2),
        )
    }))?;
    chart.draw_series(lane.clean_restarts.iter().map(|&t| {
        PathElement::new(
            vec![(t, y - 0.45), (t, y + 0.45)],
            CLEAN_RESTART_COLOR.stroke_width(2),
        )
    }))?;
    chart.draw_series(
        lane.revotes
            .iter()
            .map(|&t| TriangleMarker::new((t, y + 0.4), 4, REVOTE_COLOR.filled())),
    )?;

    label_lane(root, chart, g, at, lane, labels)
}

/// A lane's texts: the entry numbers under its bars, the incarnation each restart begins, and
/// its name.
fn label_lane(
    root: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    chart: &Chart<'_, '_>,
    g: &Frame,
    at: LaneAt,
    lane: &Lane,
    labels: Option<&Vec<(f64, u64)>>,
) -> Result<(), DrawingAreaErrorKind<std::io::Error>> {
    let LaneAt { node, y, .. } = at;
    if let Some(numbers) = labels {
        for &(x, k) in numbers {
            let (bx, by) = chart.backend_coord(&(x, y - 0.32));
            root.draw(&Text::new(
                k.to_string(),
                (bx, by + 2),
                (FONT, LABEL_FONT)
                    .into_font()
                    .color(&LABEL_COLOR)
                    .pos(Pos::new(HPos::Center, VPos::Top)),
            ))?;
        }
    }

    // A node with several processes: which one the lane starts with, and the one each
    // restart line begins.
    let several = lane.starts.len() > 1;
    if several {
        for (t, color) in lane.restarts.iter().map(|&t| (t, KILL_COLOR)).chain(
            lane.clean_restarts
                .iter()
                .map(|&t| (t, CLEAN_RESTART_COLOR)),
        ) {
            let (bx, by) = chart.backend_coord(&(t, y + 0.45));
            root.draw(&Text::new(
                format!("inc {}", lane.incarnation_at(t)),
                (bx + 3, by),
                (FONT, LABEL_FONT)
                    .into_font()
                    .color(&color)
                    .pos(Pos::new(HPos::Left, VPos::Top)),
            ))?;
        }
    }
    let (lx, ly) = chart.backend_coord(&(g.x_min, y));
    root.draw(&Text::new(
        format!("node {node}"),
        (lx - 12, if several { ly - 9 } else { ly }),
        (FONT, 19)
            .into_font()
            .color(&BLACK)
            .pos(Pos::new(HPos::Right, VPos::Center)),
    ))?;
    if several {
        root.draw(&Text::new(
            format!("inc {}", lane.incarnation_at(g.x_min)),
            (lx - 12, ly + 11),
            (FONT, 14)
                .into_font()
                .color(&LABEL_COLOR)
                .pos(Pos::new(HPos::Right, VPos::Center)),
        ))?;
    }
    Ok(())
}

impl Timeline {
    /// The picture's title: the whole run, or which part of it a window shows.
    fn title(&self) -> String {
        let s = &self.summary;
        if !self.windowed {
            return "Who was in the critical section when".to_string();
        }
        let secs = |ms: f64| {
            let t = format!("{:.3}", ms / 1000.0);
            t.trim_end_matches('0').trim_end_matches('.').to_string()
        };
        let entries = match s.entry_range {
            Some((a, b)) => format!("CS entries {a} to {b} of {}", s.run_entries),
            None => format!("none of the {} CS entries", s.run_entries),
        };
        format!(
            "Who was in the critical section when: {} s to {} s of a {} s run ({entries})",
            secs(s.from_ms),
            secs(s.to_ms),
            secs(s.span_ms)
        )
    }

    /// Where to write each node's entry number under its CS bars: (x in ms, entry), per lane,
    /// only on lanes where every number fits without touching the next one (in a window of a
    /// few seconds, not in the barcode of a whole run).
    fn entry_labels<DB: DrawingBackend>(
        &self,
        chart: &ChartContext<'_, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    ) -> BTreeMap<NodeId, Vec<(f64, u64)>> {
        let mut out = BTreeMap::new();
        for (node, lane) in &self.lanes {
            let mut at: Vec<(f64, u64)> = lane
                .cs
                .iter()
                .zip(&lane.cs_entries)
                .map(|(&(s, e, _), &(k, _))| ((s + e) / 2.0, k))
                .collect();
            at.sort_by(|a, b| a.0.total_cmp(&b.0));
            // Room for the wider of two neighbours' numbers, about 7 px a digit, and a gap.
            let fits = at.windows(2).all(|w| {
                let (x0, _) = chart.backend_coord(&(w[0].0, 0.0));
                let (x1, _) = chart.backend_coord(&(w[1].0, 0.0));
                let digits = w[0].1.max(w[1].1).to_string().len() as i32;
                x1 - x0 >= 7 * digits + 6
            });
            if fits && !at.is_empty() {
                out.insert(*node, at);
            }
        }
        out
    }
}

/// What a legend entry shows; the lanes use the same styles.
#[derive(Debug, Clone, Copy)]
enum Swatch {
    Cs,
    KilledCs,
    Wait,
    Restart,
    CleanRestart,
    Revote,
}

const LEGEND: [(Swatch, &str); 6] = [
    (Swatch::Cs, "in the CS"),
    (Swatch::KilledCs, "killed in the CS"),
    (Swatch::Wait, "waiting for votes"),
    (Swatch::Restart, "restart after a kill"),
    (Swatch::CleanRestart, "clean stop, start"),
    (Swatch::Revote, "re-vote (voter's lane)"),
];

/// Title and legend, left to right in one row.
fn draw_header(
    area: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    title: &str,
) -> Result<(), DrawingAreaErrorKind<std::io::Error>> {
    let text = |s: &str, x: i32, y: i32, size: i32| {
        Text::new(
            s.to_string(),
            (x, y),
            (FONT, size)
                .into_font()
                .color(&BLACK)
                .pos(Pos::new(HPos::Left, VPos::Center)),
        )
    };
    area.draw(&text(title, 20, 20, 22))?;
    let (y, mut x) = (52, 20);
    for (swatch, label) in LEGEND {
        let (l, r) = (x, x + 22);
        match swatch {
            Swatch::Cs => {
                area.draw(&Rectangle::new([(l, y - 7), (r, y + 7)], CS_COLOR.filled()))?
            }
            Swatch::KilledCs => {
                area.draw(&Rectangle::new([(l, y - 7), (r, y + 7)], CS_COLOR.filled()))?;
                area.draw(&Rectangle::new(
                    [(l - 1, y - 8), (r + 1, y + 8)],
                    KILL_COLOR,
                ))?;
                area.draw(&Cross::new((r, y), 5, KILL_COLOR.stroke_width(2)))?;
            }
            Swatch::Wait => area.draw(&Rectangle::new(
                [(l, y - 4), (r, y + 4)],
                WAIT_COLOR.filled(),
            ))?,
            Swatch::Restart => area.draw(&PathElement::new(
                vec![(l + 11, y - 9), (l + 11, y + 9)],
                KILL_COLOR.stroke_width(2),
            ))?,
            Swatch::CleanRestart => area.draw(&PathElement::new(
                vec![(l + 11, y - 9), (l + 11, y + 9)],
                CLEAN_RESTART_COLOR.stroke_width(2),
            ))?,
            Swatch::Revote => {
                area.draw(&TriangleMarker::new((l + 11, y), 5, REVOTE_COLOR.filled()))?
            }
        }
        area.draw(&text(label, r + 10, y, 16))?;
        // About 7 px per character at this size (SVG text has no exact width before display).
        x = r + 10 + 7 * label.len() as i32 + 30;
    }
    Ok(())
}
