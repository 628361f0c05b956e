//! `flowmate-template`: the template service as its own process (distributed mode).

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    flowmate_runtime::process::main("flowmate-template", flowmate_template::launch)
}
