//! The CSV loader (`picospike_host::data::parse_csv`, gzip or not) on arbitrary bytes: the first
//! byte picks the header mode, the number of classes and whether a model's input size is
//! imposed; an accepted data set must be consistent.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use picospike_host::data::{parse_csv, CsvHeader, CsvOptions};

fuzz_target!(|data: &[u8]| {
    let Some((&flags, text)) = data.split_first() else {
        return;
    };
    let options = CsvOptions {
        classes: 2 + usize::from(flags >> 4),
        full_scale: (flags & 0x08 != 0).then_some(255),
        header: match flags & 0x03 {
            0 => CsvHeader::Auto,
            1 => CsvHeader::Yes,
            _ => CsvHeader::No,
        },
        pixels: (flags & 0x04 != 0).then_some(4),
    };
    if let Ok(set) = parse_csv(Path::new("fuzz.csv"), text, &options) {
        assert!(!set.is_empty());
        assert_eq!(set.images.len(), set.labels.len());
        let features = set.features();
        assert!(features >= 1);
        if let Some(pixels) = options.pixels {
            assert_eq!(features, pixels);
        }
        assert!(set.images.iter().all(|x| x.len() == features));
        assert!(set.labels.iter().all(|&l| usize::from(l) < options.classes));
        if let Some((h, w)) = set.shape {
            assert_eq!(h * w, features);
        }
    }
});
