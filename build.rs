//! Compiles proto/maekawa.proto with protox (a protobuf compiler in Rust), so building needs
//! no system `protoc`: a machine with only cargo builds the project.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto/maekawa.proto");
    let descriptors = protox::compile(["proto/maekawa.proto"], ["proto"])?;
    tonic_prost_build::configure().compile_fds(descriptors)?;
    Ok(())
}
