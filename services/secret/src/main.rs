//! `flowmate-secret`: the secret service as its own process (distributed mode).

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    flowmate_runtime::process::main("flowmate-secret", flowmate_secret::launch)
}
