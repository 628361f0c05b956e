//! Generates the gRPC code from `proto/` with the vendored `protoc`, so a machine with only Rust builds FlowMate.

/// Messages whose derived `Debug` would print a secret.
const REDACTED: &[&str] = &[
    "flowmate.secrets.v1.WriteRequest",
    "flowmate.secrets.v1.CompleteConsentRequest",
    "flowmate.secrets.v1.ResolvedCredential",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    std::env::set_var("PROTOC", protoc);
    // Read at run time: `env!` would bake in the path of the checkout the script was first compiled in, and a
    // target directory shared by several checkouts (CI keeps one) would then read another checkout's protos.
    let root = std::path::PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("../../proto");
    let files = [
        "flowmate/common/v1/common.proto",
        "flowmate/identity/v1/identity.proto",
        "flowmate/flows/v1/flows.proto",
        "flowmate/templates/v1/templates.proto",
        "flowmate/executions/v1/executions.proto",
        "flowmate/webhooks/v1/webhooks.proto",
        "flowmate/secrets/v1/secrets.proto",
    ];
    for f in &files {
        println!("cargo:rerun-if-changed={}", root.join(f).display());
    }
    // Messages that carry credentials in clear get a redacting Debug (src/redact.rs) instead of the derived one.
    let mut builder = tonic_build::configure();
    for message in REDACTED {
        builder = builder.skip_debug(format!(".{message}"));
    }
    builder.compile_protos(&files.map(|f| root.join(f)), &[root])?;
    Ok(())
}
