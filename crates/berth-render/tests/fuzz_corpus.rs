//! The spec fuzzer's regression corpus (`fuzz/corpus/spec`) through every
//! renderer on stable, in every test run: each input that validates renders
//! every target, twice, byte-identical, without a panic.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests fail loudly")]

#[test]
fn every_valid_corpus_spec_renders_every_target_deterministically() {
    let mut rendered = 0;
    for (path, text) in berth_test_support::fuzz_corpus("spec") {
        for env in std::iter::once(None).chain(berth_spec::environments(&text).into_iter().map(Some)) {
            let Some(spec) = berth_spec::load(&text, env.as_deref()).spec else { continue };
            let plan = berth_plan::build(&spec, env.as_deref());
            let first = berth_render::render(&plan, &text, berth_render::Target::ALL);
            let second = berth_render::render(&plan, &text, berth_render::Target::ALL);
            assert_eq!(first.files, second.files, "{}: rendering must be deterministic", path.display());
            rendered += 1;
        }
    }
    assert!(rendered > 0, "no corpus input validates: the corpus lost its valid specs");
}
