#![allow(clippy::print_stdout)]
fn main() {
    print!("{}", berth_spec::reference::markdown());
}
