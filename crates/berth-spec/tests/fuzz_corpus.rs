//! The fuzzer's regression corpus (`fuzz/corpus/spec`) runs on stable in
//! every test run: each input goes through the whole front end and must not
//! panic. Inputs that once crashed are kept there by name.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests fail loudly")]

#[test]
fn fuzz_corpus_never_panics() {
    for (path, text) in berth_test_support::fuzz_corpus("spec") {
        let text = text.as_str();
        let diagnostics = berth_spec::check_all(text);
        let file = berth_diagnostics::SourceFile::new("corpus.yaml", text);
        let _ = berth_diagnostics::render_human(&file, &diagnostics, berth_diagnostics::ColorChoice::Never);
        for env in std::iter::once(None).chain(berth_spec::environments(text).into_iter().map(Some)) {
            let loaded = berth_spec::load(text, env.as_deref());
            assert_eq!(
                loaded.spec.is_some(),
                !loaded.has_errors(),
                "{}: a spec is returned exactly when it has no errors",
                path.display()
            );
        }
    }
}

#[test]
fn hostile_inputs_are_refused_cleanly() {
    let bomb = "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\ng: [*f, *f, *f, *f, *f, *f, *f, *f, *f]\n";
    let deep = format!("{}1{}", "[".repeat(10_000), "]".repeat(10_000));
    for text in
        [bomb.to_owned(), deep, String::new(), "\u{feff}".to_owned(), "---\n---\n".to_owned(), "\t- x".to_owned()]
    {
        let diagnostics = berth_spec::check_all(&text);
        assert!(diagnostics.iter().any(berth_diagnostics::Diagnostic::is_error), "{:?}", &text[..text.len().min(40)]);
    }
}
