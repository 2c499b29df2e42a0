//! maekawa's wire: the protobuf messages and gRPC services of proto/maekawa.proto, generated
//! at build time (build.rs, with protox: no system `protoc`), and [`SmallCodec`], the codec
//! every generated client and server encodes with.
//!
//! Both ends of every call build on this crate: the daemon (crate `maekawa`, whose edge modules
//! `transport`, `validate`, `control` and `lock_service` convert to and from its own types) and
//! the client (crate `maekawa-client`). It holds no logic of either: no checks, no conversions,
//! no I/O. Its types are not a stable API beyond the proto file itself; tests that speak the
//! wire directly use them through `maekawa::daemon::wire`.
#![warn(missing_docs, unreachable_pub)]

pub use generated::*;

/// What tonic-prost-build writes from the proto file: code we do not edit, so it is exempt
/// from the lints.
#[allow(missing_docs, unreachable_pub, clippy::all)]
mod generated {
    tonic::include_proto!("maekawa.v1");
}

use std::marker::PhantomData;
use tonic::codec::{BufferSettings, Codec};
use tonic_prost::{ProstDecoder, ProstEncoder};

/// Where every generated client and server of this crate encodes and decodes (build.rs names
/// it as their codec): prost's, with 1 KiB starting buffers instead of tonic's 8 KiB. Every
/// message here is under a few hundred bytes (a buffer grows when one is not), and a daemon
/// keeps two long-lived streams per peer, each with an encoding and a decoding buffer: at 100
/// nodes the 8 KiB buffers alone were about 3 MiB of a daemon's 20 MiB (BENCHMARKS.md,
/// "Scale").
#[derive(Debug, Clone)]
pub struct SmallCodec<T, U>(PhantomData<(T, U)>);

impl<T, U> Default for SmallCodec<T, U> {
    fn default() -> Self {
        SmallCodec(PhantomData)
    }
}

/// The starting size of a stream's encoding or decoding buffer; tonic's default yield threshold.
fn small_buffers() -> BufferSettings {
    BufferSettings::new(1024, 32 * 1024)
}

impl<T, U> Codec for SmallCodec<T, U>
where
    T: prost::Message + Send + 'static,
    U: prost::Message + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = ProstEncoder<T>;
    type Decoder = ProstDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        ProstEncoder::new(small_buffers())
    }

    fn decoder(&mut self) -> Self::Decoder {
        ProstDecoder::new(small_buffers())
    }
}
