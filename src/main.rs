//! The `mailspec` command line: a thin layer over the library.

mod cli;

/// mimalloc instead of the system allocator: a render allocates and frees many small strings
/// per message (template values, header pieces), and glibc's malloc/free were about 12 % of a
/// single-threaded batch in `perf` (benches/README.md). Only the binary chooses; the library
/// leaves the allocator to its users.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    cli::main()
}
