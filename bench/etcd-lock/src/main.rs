//! `etcd-lock-bench ENDPOINTS CLIENTS SECONDS HOLD_MS`: CLIENTS tasks (one connection each,
//! spread over the comma-separated ENDPOINTS) take and release the same etcd lock in a loop
//! for SECONDS, holding it HOLD_MS; prints one JSON object with locks per second and the
//! acquire latency, for comparison with `maekawa bench`.

use etcd_client::{Client, LockOptions};
use std::time::{Duration, Instant};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 5 {
        eprintln!("usage: etcd-lock-bench ENDPOINTS CLIENTS SECONDS HOLD_MS");
        std::process::exit(2);
    }
    let endpoints: Vec<String> = args[1].split(',').map(String::from).collect();
    let clients: usize = args[2].parse()?;
    let seconds: f64 = args[3].parse()?;
    let hold = Duration::from_millis(args[4].parse()?);
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let mut tasks = Vec::new();
    for i in 0..clients {
        let endpoint = endpoints[i % endpoints.len()].clone();
        tasks.push(tokio::spawn(async move {
            let mut client = Client::connect([endpoint], None).await?;
            let lease = client.lease_grant(30, None).await?.id();
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let asked = Instant::now();
                let key = client
                    .lock("maekawa-bench", Some(LockOptions::new().with_lease(lease)))
                    .await?
                    .key()
                    .to_vec();
                latencies.push(asked.elapsed().as_secs_f64() * 1000.0);
                if !hold.is_zero() {
                    tokio::time::sleep(hold).await;
                }
                client.unlock(key).await?;
            }
            Ok::<_, etcd_client::Error>(latencies)
        }));
    }
    let started = Instant::now();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    let elapsed = started.elapsed().as_secs_f64().max(seconds);
    all.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        if all.is_empty() {
            0.0
        } else {
            all[((all.len() - 1) as f64 * p).round() as usize]
        }
    };
    println!(
        "{}",
        serde_json::json!({
            "clients": clients,
            "seconds": seconds,
            "locks": all.len(),
            "locks_per_second": all.len() as f64 / elapsed,
            "acquire_p50_ms": pct(0.5),
            "acquire_p99_ms": pct(0.99),
            "acquire_max_ms": all.last().copied().unwrap_or(0.0),
        })
    );
    Ok(())
}
