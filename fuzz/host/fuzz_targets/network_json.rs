//! The float-network JSON loader (`picospike_host::model_file::network_from_slice`) on arbitrary
//! bytes; an accepted network must survive what the commands do with it: a rate-mode forward
//! pass, a few steps of the float spiking simulator, conversion and quantization.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use picospike_host::model_file::network_from_slice;
use picospike_host::quantized::build_blob;
use picospike_host::recipe::{to_spiking, ConvertOptions};

fuzz_target!(|data: &[u8]| {
    let Ok(net) = network_from_slice(Path::new("fuzz.json"), data) else {
        return;
    };
    // Bound the work per input: the loader accepts any consistent size.
    let parameters: usize = net.layers.iter().map(|l| l.weights.len()).sum();
    if parameters > 1 << 16 {
        return;
    }
    let input = vec![7u8; net.input.size()];
    let outputs = net.rate_outputs(&input);
    assert_eq!(outputs.len(), net.layers.last().map_or(0, |l| l.outputs));
    let mut sim = net.simulator(&input);
    for _ in 0..3 {
        sim.step();
    }
    let spiking = to_spiking(
        &net,
        &ConvertOptions {
            timesteps: 3,
            ..ConvertOptions::default()
        },
    );
    if let Ok((blob, sizes)) = build_blob(&spiking) {
        assert_eq!(sizes.flash_bytes, blob.len());
    }
});
