#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cartseal::fuzzing::run("token_open", data));
