#![no_main]

libfuzzer_sys::fuzz_target!(|input: &[u8]| vitrine_fuzz::query_body(input));
