//! `maekawa scale`: messages per CS entry against the cluster size N, measured on real daemons
//! and simulated, beside Ricart–Agrawala's and a token ring's, as a table and an SVG picture.
//!
//! For each N it runs [`crate::bench`] twice (the daemons' default leases, then `--lease-ms
//! 0`), the core's simulator under full contention (with and without leases), and the core's
//! models of Ricart–Agrawala and of a token ring ([`maekawa_core::baseline`]). It compares what
//! it measured with 3(|Q| − 1), Maekawa's count for an uncontended entry (|Q| the mean quorum
//! size of the grid over N nodes, the node itself included). It measures and draws; it
//! asserts nothing about the figures (goals live in BENCHMARKS.md).

use crate::bench::{self, BenchError, BenchReport, BenchSettings};
use maekawa_core::baseline::{self, BaselineFailure, RingLoad};
use maekawa_core::id::NodeId;
use maekawa_core::protocol::Options;
use maekawa_core::quorum::QuorumSystem;
use maekawa_core::sim::{self, Contention, SimConfig, SimFailure};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use serde::Serialize;
use std::path::Path;

/// What to run.
#[derive(Debug, Clone)]
pub struct ScaleSettings {
    /// Cluster sizes, in the order to run them.
    pub nodes: Vec<usize>,
    /// Seconds of each real-daemon run (two runs per size: leases on and off).
    pub seconds: f64,
    /// Seed of the simulations and models.
    pub seed: u64,
}

/// One real-daemon run, reduced to what the scale table shows.
#[derive(Debug, Clone, Serialize)]
pub struct DaemonRun {
    /// The daemons' `--lease-ms` (absent: their default, leases on).
    pub lease_ms: Option<u64>,
    /// CS entries.
    pub entries: u64,
    /// Entries per second between the first and the last entry.
    pub entries_per_second: f64,
    /// Network messages per entry over the whole run.
    pub messages_per_entry: f64,
    /// Network messages per entry between the first and the last entry (the steady rate).
    pub messages_per_entry_steady: f64,
    /// The largest peak RSS of a daemon, MiB.
    pub max_peak_rss_mib: f64,
    /// The daemons' `--suspect-after`, ms.
    pub suspect_after_ms: u64,
    /// `maekawa check` on the run's logs passed.
    pub check_passed: bool,
    /// Its summary's first clause (up to the per-node counts).
    pub check: String,
}

impl DaemonRun {
    fn from_report(r: &BenchReport) -> DaemonRun {
        let max_kib = r.daemons.iter().map(|d| d.peak_rss_kib).max().unwrap_or(0);
        DaemonRun {
            lease_ms: r.lease_ms,
            entries: r.entries,
            entries_per_second: r.entries_per_second,
            messages_per_entry: r.messages_per_entry,
            messages_per_entry_steady: r.messages_per_entry_steady,
            max_peak_rss_mib: round2(max_kib as f64 / 1024.0),
            suspect_after_ms: r.suspect_after_ms,
            check_passed: r.check_passed,
            check: r.check.split(" (").next().unwrap_or("").to_string(),
        }
    }
}

/// One cluster size: everything measured and simulated for it.
#[derive(Debug, Clone, Serialize)]
pub struct ScaleRow {
    /// Nodes.
    pub nodes: usize,
    /// Mean quorum size |Q| of the grid over this many nodes (the owner included).
    pub quorum: f64,
    /// 3(|Q| − 1): Maekawa's messages for an uncontended entry without leases.
    pub uncontended: f64,
    /// Real daemons with leases (their default).
    pub daemons_leases: DaemonRun,
    /// Real daemons with `--lease-ms 0`.
    pub daemons_no_leases: DaemonRun,
    /// Steady messages per entry of the runs without leases over 3(|Q| − 1).
    pub ratio_no_leases: f64,
    /// The same with leases.
    pub ratio_leases: f64,
    /// The simulator, full contention, leases on: messages per entry.
    pub simulated_leases: f64,
    /// The simulator, full contention, leases off.
    pub simulated_no_leases: f64,
    /// Ricart–Agrawala, simulated under full contention.
    pub ricart_agrawala: f64,
    /// A token ring under full contention.
    pub ring_full: f64,
    /// A token ring with one requester at a time.
    pub ring_one_at_a_time: f64,
}

/// Why the scale run stopped.
#[derive(Debug, thiserror::Error)]
pub enum ScaleError {
    /// A real-daemon run could not be done.
    #[error("{nodes} nodes: {source}")]
    Bench {
        /// The cluster size.
        nodes: usize,
        /// What the bench said.
        source: BenchError,
    },
    /// The simulator found an invariant broken (a bug in the protocol core).
    #[error("{nodes} nodes: {0}", nodes = .0.config.nodes)]
    Sim(Box<SimFailure>),
    /// A baseline model failed (a bug in the model).
    #[error(transparent)]
    Baseline(#[from] BaselineFailure),
    /// The picture could not be drawn or written.
    #[error("{path}: {message}; pass --svg a path in a writable directory")]
    Svg {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The mean quorum size of the grid over `nodes` nodes, the owner counted.
pub fn mean_quorum(nodes: usize) -> f64 {
    let ids: Vec<NodeId> = (0..nodes as u32).map(NodeId).collect();
    let system = QuorumSystem::grid(&ids);
    let total: usize = ids
        .iter()
        .map(|&id| {
            let q = system.quorum(id);
            q.len() + usize::from(!q.contains(&id))
        })
        .sum();
    total as f64 / nodes.max(1) as f64
}

/// Requests per node of a simulated run: enough entries to average over (about 600), at
/// least 3 per node.
fn sim_requests(nodes: usize) -> u32 {
    (600 / nodes.max(1)).max(3) as u32
}

/// The simulator's messages per entry under full contention.
fn simulate(nodes: usize, seed: u64, leases: bool) -> Result<f64, ScaleError> {
    let cfg = SimConfig {
        nodes,
        seed,
        requests: sim_requests(nodes),
        contention: Contention::Full,
        options: Options {
            leases,
            ..Options::default()
        },
        crashes: 0,
        journal: true,
        journal_token: true,
        locks: 1,
        cancels: 0,
        stops: 0,
        wrong_suspicions: 0,
        disk_losses: 0,
        pauses: 0,
        change: Default::default(),
    };
    sim::run(&cfg)
        .map(|s| round2(s.per_entry()))
        .map_err(ScaleError::Sim)
}

/// Runs everything for each size of `settings`, telling `progress` what it starts (a line for
/// people; the runs take minutes).
pub fn run(
    settings: &ScaleSettings,
    progress: &mut dyn FnMut(&str),
) -> Result<Vec<ScaleRow>, ScaleError> {
    let mut rows = Vec::new();
    for (i, &n) in settings.nodes.iter().enumerate() {
        let step = format!("[{}/{}] {n} nodes", i + 1, settings.nodes.len());
        progress(&format!("{step}: simulator and models"));
        let simulated_leases = simulate(n, settings.seed, true)?;
        let simulated_no_leases = simulate(n, settings.seed, false)?;
        let requests = sim_requests(n);
        let ricart_agrawala = baseline::ricart_agrawala(n, requests, settings.seed)?.per_entry();
        let ring_full = baseline::token_ring(n, requests, RingLoad::Full, settings.seed)?;
        let ring_one = baseline::token_ring(n, requests, RingLoad::OneAtATime, settings.seed)?;
        let mut daemons = |lease_ms: Option<u64>| {
            progress(&format!(
                "{step}: real daemons, {}, {} s",
                lease_ms.map_or("leases".to_string(), |l| format!("--lease-ms {l}")),
                settings.seconds
            ));
            let report = bench::run(&BenchSettings {
                nodes: n,
                seconds: settings.seconds,
                hold_ms: 0,
                think_ms: 0,
                progress: false,
                keep: None,
                clients: 0,
                lease_ms,
                handover: None,
                journal_votes: false,
                tls: false,
                suspect_after_ms: None,
            })
            .map_err(|source| ScaleError::Bench { nodes: n, source })?;
            Ok::<_, ScaleError>(DaemonRun::from_report(&report))
        };
        let daemons_leases = daemons(None)?;
        let daemons_no_leases = daemons(Some(0))?;
        let quorum = mean_quorum(n);
        let uncontended = 3.0 * (quorum - 1.0);
        let ratio = |r: &DaemonRun| {
            if uncontended > 0.0 {
                round2(r.messages_per_entry_steady / uncontended)
            } else {
                0.0
            }
        };
        rows.push(ScaleRow {
            nodes: n,
            quorum: round2(quorum),
            uncontended: round2(uncontended),
            ratio_no_leases: ratio(&daemons_no_leases),
            ratio_leases: ratio(&daemons_leases),
            daemons_leases,
            daemons_no_leases,
            simulated_leases,
            simulated_no_leases,
            ricart_agrawala: round2(ricart_agrawala),
            ring_full: round2(ring_full.per_entry()),
            ring_one_at_a_time: round2(ring_one.per_entry()),
        });
        progress(&format!("{step}: done"));
    }
    Ok(rows)
}

/// The rows as a Markdown table (it reads as plain text too).
pub fn render(rows: &[ScaleRow]) -> String {
    let mut out = String::from(
        "| N | \\|Q\\| | 3(\\|Q\\|−1) | real, no leases: msgs/entry (steady) | ratio | real, leases: msgs/entry (steady) | ratio | sim, no leases | sim, leases | Ricart–Agrawala | ring, full | ring, one at a time | entries/s no leases / leases | max peak RSS MiB no leases / leases | check |\n\
         |---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n",
    );
    for r in rows {
        let (a, b) = (&r.daemons_no_leases, &r.daemons_leases);
        let check = if a.check_passed && b.check_passed {
            "passed ×2".to_string()
        } else {
            format!("{}; {}", a.check, b.check)
        };
        out.push_str(&format!(
            "| {} | {:.2} | {:.1} | {:.2} ({:.2}) | {:.2}x | {:.2} ({:.2}) | {:.2}x | {:.2} | {:.2} | {:.1} | {:.2} | {:.2} | {:.1} / {:.1} | {:.1} / {:.1} | {check} |\n",
            r.nodes,
            r.quorum,
            r.uncontended,
            a.messages_per_entry,
            a.messages_per_entry_steady,
            r.ratio_no_leases,
            b.messages_per_entry,
            b.messages_per_entry_steady,
            r.ratio_leases,
            r.simulated_no_leases,
            r.simulated_leases,
            r.ricart_agrawala,
            r.ring_full,
            r.ring_one_at_a_time,
            a.entries_per_second,
            b.entries_per_second,
            a.max_peak_rss_mib,
            b.max_peak_rss_mib,
        ));
    }
    out
}

/// The picture's size, px.
const WIDTH: u32 = 1000;
const HEIGHT: u32 = 640;
const FONT: &str = "sans-serif";

/// One line of the picture: its legend label, colour, dash, and y for each row.
struct Series {
    label: &'static str,
    color: RGBColor,
    dashed: bool,
    value: fn(&ScaleRow) -> f64,
}

const SERIES: [Series; 8] = [
    Series {
        label: "3(|Q| − 1): Maekawa, uncontended",
        color: RGBColor(0x55, 0x55, 0x55),
        dashed: true,
        value: |r| r.uncontended,
    },
    Series {
        label: "real daemons, --lease-ms 0 (steady)",
        color: RGBColor(0x1F, 0x77, 0xB4),
        dashed: false,
        value: |r| r.daemons_no_leases.messages_per_entry_steady,
    },
    Series {
        label: "real daemons, leases (steady)",
        color: RGBColor(0xD6, 0x27, 0x28),
        dashed: false,
        value: |r| r.daemons_leases.messages_per_entry_steady,
    },
    Series {
        label: "simulator, no leases",
        color: RGBColor(0x1F, 0x77, 0xB4),
        dashed: true,
        value: |r| r.simulated_no_leases,
    },
    Series {
        label: "simulator, leases",
        color: RGBColor(0xD6, 0x27, 0x28),
        dashed: true,
        value: |r| r.simulated_leases,
    },
    Series {
        label: "Ricart–Agrawala, simulated: 2(N − 1)",
        color: RGBColor(0x2C, 0xA0, 0x2C),
        dashed: false,
        value: |r| r.ricart_agrawala,
    },
    Series {
        label: "token ring, one requester at a time",
        color: RGBColor(0x94, 0x67, 0xBD),
        dashed: true,
        value: |r| r.ring_one_at_a_time,
    },
    Series {
        label: "token ring, full contention",
        color: RGBColor(0x94, 0x67, 0xBD),
        dashed: false,
        value: |r| r.ring_full,
    },
];

/// Draws messages per entry against N (log scale on y: the series span 1 to 2(N − 1)) and
/// writes it to `path`.
pub fn write_svg(rows: &[ScaleRow], path: &Path) -> Result<(), ScaleError> {
    let svg = draw(rows).map_err(|e| ScaleError::Svg {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    std::fs::write(path, svg).map_err(|e| ScaleError::Svg {
        path: path.display().to_string(),
        message: e.to_string(),
    })
}

/// The SVG text, or what plotters said.
pub fn draw(rows: &[ScaleRow]) -> Result<String, DrawingAreaErrorKind<std::io::Error>> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        draw_on(&root, rows)?;
        root.present()?;
    }
    Ok(svg)
}

fn draw_on(
    root: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    rows: &[ScaleRow],
) -> Result<(), DrawingAreaErrorKind<std::io::Error>> {
    root.fill(&WHITE)?;
    let values = || {
        rows.iter()
            .flat_map(|r| SERIES.iter().map(move |s| (s.value)(r)))
            .filter(|v| *v > 0.0)
    };
    let y_max = values().fold(1.0f64, f64::max) * 1.5;
    let y_min = values().fold(y_max, f64::min).min(1.0) * 0.7;
    let x_max = rows.iter().map(|r| r.nodes).max().unwrap_or(1) as f64 * 1.05;
    let mut chart = ChartBuilder::on(root)
        .caption(
            "Network messages per CS entry against cluster size (full contention)",
            (FONT, 22),
        )
        .margin(15)
        .x_label_area_size(50)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..x_max, (y_min..y_max).log_scale())?;
    chart
        .configure_mesh()
        .x_desc("N, nodes")
        .y_desc("messages per CS entry (log scale)")
        .x_label_formatter(&|v| format!("{v:.0}"))
        .y_label_formatter(&|v| {
            if *v >= 1.0 {
                format!("{v:.0}")
            } else {
                format!("{v:.1}")
            }
        })
        .x_labels(12)
        .y_labels(12)
        .max_light_lines(1)
        .label_style((FONT, 15))
        .axis_desc_style((FONT, 17))
        .light_line_style(RGBColor(0xF4, 0xF4, 0xF4))
        .draw()?;
    for s in &SERIES {
        let points: Vec<(f64, f64)> = rows
            .iter()
            .map(|r| (r.nodes as f64, (s.value)(r)))
            .filter(|(_, y)| *y > 0.0)
            .collect();
        let style = s.color.stroke_width(2);
        let pixels: Vec<(i32, i32)> = points.iter().map(|p| chart.backend_coord(p)).collect();
        if s.dashed {
            for dash in dashes(&pixels, 8.0, 5.0) {
                root.draw(&PathElement::new(dash, style))?;
            }
        } else {
            root.draw(&PathElement::new(pixels, style))?;
        }
        chart.draw_series(points.iter().map(|&p| Circle::new(p, 3, s.color.filled())))?;
    }
    // The legend, drawn by hand in the lower right, below the lines of the larger clusters
    // (plotters' own needs font metrics, which its SVG backend without a font engine does
    // not have).
    let (x0, y0) = (WIDTH as i32 - 400, HEIGHT as i32 - 280);
    for (i, s) in SERIES.iter().enumerate() {
        let y = y0 + 22 * i as i32;
        let line = vec![(x0, y), (x0 + 30, y)];
        let style = s.color.stroke_width(2);
        if s.dashed {
            root.draw(&PathElement::new(vec![(x0, y), (x0 + 10, y)], style))?;
            root.draw(&PathElement::new(vec![(x0 + 18, y), (x0 + 30, y)], style))?;
        } else {
            root.draw(&PathElement::new(line, style))?;
        }
        root.draw(&Text::new(
            s.label.to_string(),
            (x0 + 40, y),
            (FONT, 15)
                .into_font()
                .color(&BLACK)
                .pos(Pos::new(HPos::Left, VPos::Center)),
        ))?;
    }
    Ok(())
}

/// A polyline in pixels cut into dashes `on` px long with gaps `off` px long (plotters' own
/// line series are not among the features this crate builds it with).
fn dashes(points: &[(i32, i32)], on: f64, off: f64) -> Vec<Vec<(i32, i32)>> {
    let mut out = Vec::new();
    // Where in the on/off cycle the pen is.
    let mut phase = 0.0f64;
    for w in points.windows(2) {
        let (a, b) = (w[0], w[1]);
        let (dx, dy) = (f64::from(b.0 - a.0), f64::from(b.1 - a.1));
        let len = (dx * dx + dy * dy).sqrt();
        let at = |t: f64| {
            let t = if len > 0.0 { t / len } else { 0.0 };
            (a.0 + (dx * t).round() as i32, a.1 + (dy * t).round() as i32)
        };
        let mut t = 0.0f64;
        while t < len {
            let cycle = phase % (on + off);
            let step = if cycle < on {
                on - cycle
            } else {
                on + off - cycle
            };
            let end = (t + step).min(len);
            if cycle < on {
                out.push(vec![at(t), at(end)]);
            }
            phase += end - t;
            t = end;
        }
    }
    out
}
