//! `maekawa watch`: one page in a browser that draws the cluster as its grid, the votes, the
//! queues and every message as it travels, live from the daemons or replayed from a run's logs
//! (README, "Watch it live").
//!
//! The page (`page/`: one HTML file, three scripts (`model.js` builds the state from the
//! lines, `draw.js` the SVG picture, `app.js` the controls and feeds), one style sheet) is embedded in the binary, so
//! nothing is built or fetched: it works on a machine with no network. It reads JSON from this
//! server: the layout (`/api/config`), the node-log lines (live: `/api/events`, Server-Sent
//! Events, from [`live`]; replay: `/api/log`, from [`replay`]), the CS entries
//! (`/api/entries`) and one entry's story as `maekawa report --format json` tells it
//! (`/api/story`). The lines are the node logs' own (README, "Logs"): the page and `jq` read
//! the same fields.

mod http;
pub mod live;
pub mod replay;

pub use http::serve;

use crate::config::Config;
use maekawa_core::id::NodeId;
use serde_json::{json, Value};

/// Where the lines come from.
pub enum Source {
    /// Every daemon of the cluster file, as they write.
    Live(live::Live),
    /// A finished run's logs.
    Replay(replay::Replay),
}

/// What the server serves: the layout and the source of lines.
pub struct Watch {
    /// `/api/config`, made once.
    config_json: String,
    /// The lines.
    source: Source,
}

impl Watch {
    /// A watch of `nodes` (id, address) laid out as `layout` says, reading from `source`.
    pub fn new(layout: &Layout, source: Source) -> Watch {
        let mode = match source {
            Source::Live(_) => "live",
            Source::Replay(_) => "replay",
        };
        let mut config = layout.to_json();
        config["mode"] = json!(mode);
        Watch {
            config_json: config.to_string(),
            source,
        }
    }
}

/// Where each node is drawn: the grid of the quorum system (row and column as `maekawa
/// quorums` prints them), or a near-square arrangement by id for other systems.
#[derive(Debug, Clone)]
pub struct Layout {
    system: String,
    rows: usize,
    cols: usize,
    /// Id, address, row, column and own quorum of each node.
    nodes: Vec<(NodeId, String, usize, usize, Vec<NodeId>)>,
}

impl Layout {
    /// The layout of the cluster file's nodes.
    pub fn of_config(config: &Config) -> Layout {
        let ids: Vec<NodeId> = config.nodes.iter().map(|n| n.id).collect();
        let place = |id: NodeId| -> Option<(usize, usize)> {
            let rows = config.quorums.rows()?;
            rows.iter()
                .enumerate()
                .find_map(|(r, row)| row.iter().position(|&n| n == id).map(|c| (r, c)))
        };
        let cols = config
            .quorums
            .rows()
            .and_then(|r| r.first().map(Vec::len))
            .unwrap_or_else(|| maekawa_core::quorum::ceil_sqrt(ids.len()).max(1));
        let nodes: Vec<_> = config
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let (row, col) = place(n.id).unwrap_or((i / cols, i % cols));
                let quorum = config.quorums.quorum(n.id).to_vec();
                (n.id, n.addr.clone(), row, col, quorum)
            })
            .collect();
        Layout {
            system: config.quorums.kind().to_string(),
            rows: nodes.iter().map(|n| n.2 + 1).max().unwrap_or(0),
            cols,
            nodes,
        }
    }

    /// A grid of the nodes a run's logs name, when no cluster file is at hand (a replay).
    pub fn of_ids(ids: &[(NodeId, String)]) -> Layout {
        let node_ids: Vec<NodeId> = ids.iter().map(|(id, _)| *id).collect();
        let system = maekawa_core::quorum::QuorumSystem::grid(&node_ids);
        let cols = maekawa_core::quorum::ceil_sqrt(ids.len()).max(1);
        let nodes: Vec<_> = ids
            .iter()
            .enumerate()
            .map(|(i, (id, addr))| {
                (
                    *id,
                    addr.clone(),
                    i / cols,
                    i % cols,
                    system.quorum(*id).to_vec(),
                )
            })
            .collect();
        Layout {
            system: "grid".to_string(),
            rows: nodes.iter().map(|n| n.2 + 1).max().unwrap_or(0),
            cols,
            nodes,
        }
    }

    /// `{"system","rows","cols","nodes":[{"id","addr","row","col","quorum"}]}`.
    fn to_json(&self) -> Value {
        let nodes: Vec<Value> = self
            .nodes
            .iter()
            .map(|(id, addr, row, col, quorum)| {
                json!({
                    "id": id.0,
                    "addr": addr,
                    "row": row,
                    "col": col,
                    "quorum": quorum.iter().map(|q| q.0).collect::<Vec<_>>(),
                })
            })
            .collect();
        json!({"system": self.system, "rows": self.rows, "cols": self.cols, "nodes": nodes})
    }
}

/// A line of the watch's own, in the node logs' shape: `{"timestamp","node","event",…}`.
fn own_line(node: NodeId, time: std::time::SystemTime, event: &str, extra: Value) -> Value {
    let mut line = json!({
        "timestamp": humantime::format_rfc3339_micros(time).to_string(),
        "node": node.0,
        "event": event,
    });
    if let (Some(obj), Value::Object(more)) = (line.as_object_mut(), extra) {
        obj.extend(more);
    }
    line
}
