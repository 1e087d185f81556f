//! The IDX loader (`picospike_host::data::parse_idx`, gzip or not) on arbitrary bytes: the first
//! byte says where the images file ends and the labels file begins; both are parsed and, when
//! both are accepted, paired into a data set.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use picospike_host::data::{idx_dataset, parse_idx, IdxKind};

fuzz_target!(|data: &[u8]| {
    let Some((&cut, rest)) = data.split_first() else {
        return;
    };
    let at = usize::from(cut) * rest.len() / 256;
    let (images, labels) = rest.split_at(at);
    let path = Path::new("fuzz");
    let images = parse_idx(path, images, IdxKind::Images);
    let labels = parse_idx(path, labels, IdxKind::Labels);
    for (dims, payload) in [&images, &labels].into_iter().flatten() {
        let bytes: u64 = dims.iter().map(|&d| u64::from(d)).product();
        assert_eq!(
            bytes,
            payload.len() as u64,
            "payload does not match the header"
        );
    }
    if let (Ok((idims, pixels)), Ok((ldims, label_bytes))) = (images, labels) {
        if let Ok(set) = idx_dataset((path, idims, pixels), (path, ldims, label_bytes), 10) {
            assert_eq!(set.images.len(), set.labels.len());
            assert!(set.labels.iter().all(|&l| l < 10));
            let features = set.features();
            assert!(set.images.iter().all(|x| x.len() == features));
        }
    }
});
