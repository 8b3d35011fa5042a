//! The edge fuzz target's corpus (`fuzz/corpus/edge`), replayed on stable:
//! every input that once mattered keeps passing the request readers.

#[test]
fn fuzz_corpus_keeps_the_request_readers_sound() {
    let corpus = berth_test_support::fuzz_corpus("edge");
    assert!(corpus.len() >= 5, "the corpus is missing");
    for (_, text) in corpus {
        berth_edge::fuzzing::request_readers(text.as_bytes());
    }
}
