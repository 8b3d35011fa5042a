#![allow(clippy::print_stdout, clippy::unwrap_used)]
fn main() {
    let path = std::env::args().nth(1).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let file = berth_diagnostics::SourceFile::new(path, text.clone());
    let d = berth_spec::check_all(&text);
    print!("{}", berth_diagnostics::render_human(&file, &d, berth_diagnostics::ColorChoice::Never));
}
