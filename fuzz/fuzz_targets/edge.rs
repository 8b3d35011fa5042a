//! What a client controls in a request, through the edge's readers (see
//! `berth_edge::fuzzing`). Nothing may panic or break the invariants there.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| berth_edge::fuzzing::request_readers(data));
