#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cartseal::fuzzing::run("after_auth", data));
