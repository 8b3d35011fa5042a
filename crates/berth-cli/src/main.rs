// jemalloc gives memory back to the system after a burst: an HTTP/2 flood
// through the edge left glibc's malloc holding its peak (about 140 MiB)
// for good. Its background thread purges freed pages on a timer.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> std::process::ExitCode {
    berth_cli::main()
}
