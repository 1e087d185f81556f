//! Load a blob and, if it is accepted, bind it to a state buffer of `state_words` words and run
//! a few steps on the input. See `picospike_fuzz::RunInput` for how the data is split.
#![no_main]

use std::borrow::Cow;

use libfuzzer_sys::fuzz_target;
use picospike_fuzz::{check_model, refit, reseal, run, RunInput, MAX_LAYERS};
use picospike_runtime::Model;

fuzz_target!(|data: &[u8]| {
    let parts = RunInput::parse(data);
    let blob: Cow<'_, [u8]> = if parts.refit {
        match refit(parts.blob) {
            Some(refitted) => Cow::Owned(refitted),
            None => Cow::Borrowed(parts.blob),
        }
    } else if parts.reseal {
        let mut sealed = parts.blob.to_vec();
        reseal(&mut sealed);
        Cow::Owned(sealed)
    } else {
        Cow::Borrowed(parts.blob)
    };
    if let Ok(model) = Model::<'_, MAX_LAYERS>::from_bytes(&blob) {
        check_model(&model, &blob);
        run(&model, parts.input, parts.steps);
    };
});
