//! `flowmate-execution`: the execution service as its own process (distributed mode).

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    flowmate_runtime::process::main("flowmate-execution", flowmate_execution::launch)
}
