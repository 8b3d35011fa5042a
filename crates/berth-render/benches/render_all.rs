//! Time to go from spec text to every target's files for every example and
//! environment: parse, validate, plan, render. Run with
//! `cargo bench -p berth-render --bench render_all`.

#![allow(clippy::print_stdout, clippy::unwrap_used, reason = "a benchmark prints its result")]

use std::time::{Duration, Instant};

fn render_everything(inputs: &[(String, String, Vec<Option<String>>)]) -> usize {
    let mut files = 0;
    for (_, text, envs) in inputs {
        for env in envs {
            let spec = berth_spec::load(text, env.as_deref()).spec.unwrap();
            let plan = berth_plan::build(&spec, env.as_deref());
            files += berth_render::render(&plan, text, berth_render::Target::ALL).files.len();
        }
    }
    files
}

fn main() {
    let inputs = berth_test_support::example_environments();
    let renders: usize = inputs.iter().map(|(_, _, envs)| envs.len()).sum();
    let files = render_everything(&inputs);
    let mut samples = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline || samples.len() < 10 {
        let start = Instant::now();
        std::hint::black_box(render_everything(&inputs));
        samples.push(start.elapsed());
    }
    samples.sort();
    let median = samples[samples.len() / 2];
    let p99 = samples[samples.len() * 99 / 100];
    println!(
        "render all: {} examples, {renders} spec/environment pairs x {} targets = {files} files; median {:.2} ms, p99 {:.2} ms over {} runs",
        inputs.len(),
        berth_render::Target::ALL.len(),
        median.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3,
        samples.len()
    );
}
