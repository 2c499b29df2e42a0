//! The generated protobuf and gRPC types (proto/maekawa.proto). Only the edge modules
//! (`transport`, `validate`, `control`, `lock_service`, `client`) use them; everything else
//! uses the crate's own types. Public (and hidden from the docs) only for tests that speak the
//! wire directly: not a stable API.
#![allow(missing_docs, unreachable_pub, clippy::all)]

tonic::include_proto!("maekawa.v1");
