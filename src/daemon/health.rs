//! The standard gRPC health service (`grpc.health.v1`, with `tonic-health`) so that load
//! balancers, Kubernetes probes and `maekawa ctl health` can ask a node whether it can serve:
//! SERVING while some quorum of the cluster's quorum system has no suspected member (the node
//! can still gather votes), NOT_SERVING otherwise. Both the whole server (`""`) and the lock
//! service ([`LOCK_SERVICE`]) report it.

use tokio::sync::watch;
use tonic_health::ServingStatus;

/// The health name of the lock service, as gRPC names services.
pub const LOCK_SERVICE: &str = "maekawa.v1.Lock";

/// The health service to mount, and the switch the driver flips: `true` is SERVING. A task
/// carries each change to the service, in order (the latest value wins).
pub fn serve() -> (
    watch::Sender<bool>,
    tonic_health::pb::health_server::HealthServer<impl tonic_health::pb::health_server::Health>,
) {
    let (reporter, service) = tonic_health::server::health_reporter();
    let (switch, mut changes) = watch::channel(true);
    tokio::spawn(async move {
        loop {
            let status = if *changes.borrow_and_update() {
                ServingStatus::Serving
            } else {
                ServingStatus::NotServing
            };
            for name in ["", LOCK_SERVICE] {
                reporter.set_service_status(name, status).await;
            }
            if changes.changed().await.is_err() {
                return; // the driver is gone
            }
        }
    });
    (switch, service)
}
