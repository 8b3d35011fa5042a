//! Any text through the whole front end: YAML, overlays, typed
//! deserialization, validation, rendering of diagnostics, the plan of
//! every environment that validates, and every target rendered from it
//! (twice: the same plan renders the same bytes). Nothing may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let diagnostics = berth_spec::check_all(text);
    let file = berth_diagnostics::SourceFile::new("fuzz.yaml", text);
    let _ = berth_diagnostics::render_human(&file, &diagnostics, berth_diagnostics::ColorChoice::Never);
    let _ = berth_diagnostics::render_json(&file, &diagnostics);
    let mut envs = vec![None];
    envs.extend(berth_spec::environments(text).into_iter().map(Some));
    for env in envs {
        if let Some(spec) = berth_spec::load(text, env.as_deref()).spec {
            let plan = berth_plan::build(&spec, env.as_deref());
            let first = berth_render::render(&plan, text, berth_render::Target::ALL);
            let second = berth_render::render(&plan, text, berth_render::Target::ALL);
            assert_eq!(first.files, second.files, "rendering is deterministic");
        }
    }
});
