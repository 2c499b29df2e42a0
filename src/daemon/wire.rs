//! The generated protobuf and gRPC types (proto/maekawa.proto). Crate-private: only the edge
//! modules (`transport`, `control`) see them; everything else uses the crate's own types.
#![allow(missing_docs, unreachable_pub, clippy::all)]

tonic::include_proto!("maekawa.v1");
