//! `flowmate-flow-repository`: the flow repository as its own process (distributed mode).

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    flowmate_runtime::process::main("flowmate-flow-repository", flowmate_flow_repository::launch)
}
