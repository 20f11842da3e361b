//! See `wordgate::fuzzing::scan` for the input format and the properties checked.
#![no_main]
use libfuzzer_sys::{fuzz_target, Corpus};
use wordgate::fuzzing::scan as harness;

fuzz_target!(|data: &[u8]| -> Corpus { harness(data).then_some(Corpus::Keep).unwrap_or(Corpus::Reject) });
