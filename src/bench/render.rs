//! `maekawa bench`'s report as text for people. It only formats a [`BenchReport`].

use super::BenchReport;

/// How the run's links were secured, in the report's first line.
fn security(tls: bool) -> &'static str {
    if tls {
        "mutual TLS"
    } else {
        "plaintext"
    }
}

/// The report as text for people.
pub fn render(r: &BenchReport) -> String {
    let mut out = match &r.client {
        None => format!(
            "maekawa bench: {} nodes, {} s, hold {} ms, think {} ms, {}\n",
            r.nodes,
            r.seconds,
            r.hold_ms,
            r.think_ms,
            security(r.tls)
        ),
        Some(c) => format!(
            "maekawa bench: {} nodes, {} clients of the Lock service on lock {}, {} s, hold {} ms, {}\n  locks                 {} ({:.1}/s), {:.2} messages per lock\n",
            r.nodes,
            c.clients,
            c.lock,
            r.seconds,
            r.hold_ms,
            security(r.tls),
            c.locks,
            c.locks_per_second,
            c.messages_per_lock,
        ),
    };
    out.push_str(&format!(
        "  CS entries            {} ({:.1}/s)\n",
        r.entries, r.entries_per_second
    ));
    out.push_str(&format!(
        "  messages per entry    {:.2}  ({})\n",
        r.messages_per_entry,
        r.messages_per_entry_by_type
            .iter()
            .filter(|(_, v)| **v > 0.0)
            .map(|(k, v)| format!("{k} {v:.2}"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    out.push_str(&format!(
        "  steady                {:.2} messages per entry between the first and last entry\n",
        r.messages_per_entry_steady
    ));
    out.push_str(&format!(
        "  acquire latency       p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms\n",
        r.acquire_p50_ms, r.acquire_p99_ms, r.acquire_max_ms
    ));
    out.push_str(&format!(
        "  hand-over             p50 {:.3} ms ({:.2} T); CPU {:.3} ms per entry (all daemons)\n",
        r.handover_p50_ms, r.handover_over_t, r.cpu_ms_per_entry
    ));
    out.push_str(&format!(
        "  one-way latency T     {:.3} ms (median, send to receive)\n",
        r.one_way_t_ms
    ));
    out.push_str(&format!(
        "  2T bound              {:.1} entries/s = 1 / (2T + hold); measured/bound = {:.2}\n",
        r.bound_entries_per_second, r.ratio_to_bound
    ));
    for d in &r.daemons {
        out.push_str(&format!(
            "  node {:<3} peak RSS {:>6.1} MiB, CPU {:.2} s\n",
            d.node,
            d.peak_rss_kib as f64 / 1024.0,
            d.cpu_seconds
        ));
    }
    if let Some(c) = &r.client {
        out.push_str(&format!(
            "  clients (this process) CPU {:.2} s\n",
            c.clients_cpu_seconds
        ));
    }
    out.push_str(&format!("  {}\n", r.check));
    out
}
