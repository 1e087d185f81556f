//! `Model::from_bytes` on arbitrary bytes, as given and re-framed (CRC-32 and body length made
//! right) so that mutations also reach the body decoder and the layer checks.
#![no_main]

use libfuzzer_sys::fuzz_target;
use picospike_fuzz::{load, refit, reseal};

fuzz_target!(|data: &[u8]| {
    load(data);
    let mut sealed = data.to_vec();
    reseal(&mut sealed);
    load(&sealed);
    if let Some(refitted) = refit(data) {
        load(&refitted);
    }
});
