//! Compiles proto/maekawa.proto with protox (a protobuf compiler in Rust), so building needs
//! no system `protoc`: a machine with only cargo builds the project.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto/maekawa.proto");
    let descriptors = protox::compile(["proto/maekawa.proto"], ["proto"])?;
    // Small starting buffers for every stream (src/lib.rs, `SmallCodec`).
    tonic_prost_build::configure()
        .codec_path("crate::SmallCodec")
        .compile_fds(descriptors)?;
    Ok(())
}
