//! The generated protobuf and gRPC types (proto/maekawa.proto). Only the edge modules use them
//! (`transport`, `control`, `client`); everything else uses the crate's own types. Public
//! only for tests that speak the wire directly (hostile peers); not a stable API.
#![allow(missing_docs, unreachable_pub, clippy::all)]

tonic::include_proto!("maekawa.v1");
