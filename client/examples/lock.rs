//! Take a named lock from a maekawa daemon, work under it, release it:
//!
//!     cargo run -p maekawa-client --example lock -- 127.0.0.1:50051 counter
//!
//! It builds against crate `maekawa-client` alone: none of the daemon, its command line or its
//! tools is compiled into it.
use maekawa_client::{LockClient, LockOptions};
use std::time::Duration;

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    if let Err(e) = run().await {
        eprintln!("error: {e}");
        return std::process::ExitCode::FAILURE;
    }
    std::process::ExitCode::SUCCESS
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (addr, name) = match &args[..] {
        [_, addr, name] => (addr.as_str(), name.as_str()),
        _ => return Err("usage: lock HOST:PORT NAME".into()),
    };
    let mut client = LockClient::connect(addr).await?;
    let options = LockOptions::default().timeout(Duration::from_secs(5));
    let mut guard = client.lock(name, options).await?;
    println!(
        "holding {} with fencing token {}",
        guard.name(),
        guard.token()
    );
    tokio::select! {
        lost = guard.lost() => return Err(lost.into()), // stop: someone else may hold it now
        () = tokio::time::sleep(Duration::from_secs(1)) => {} // the work done under the lock
    }
    guard.release().await?;
    Ok(())
}
