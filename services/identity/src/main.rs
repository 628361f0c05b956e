//! `flowmate-identity`: the identity service as its own process (distributed mode).

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    flowmate_runtime::process::main("flowmate-identity", flowmate_identity::launch)
}
