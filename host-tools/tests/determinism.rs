//! The same seed gives byte-identical model files; another seed gives another model.

use picospike_host::data;
use picospike_host::quantized::build_blob;
use picospike_host::recipe::{to_spiking, ConvertOptions};
use picospike_host::train::{train, TrainConfig};

fn model_bytes(seed: u64) -> Vec<u8> {
    let (train_set, _) = data::builtin_digits().stratified_split(0.2, 0).unwrap();
    let config = TrainConfig {
        seed,
        epochs: 5,
        progress: false,
        ..TrainConfig::digits()
    };
    let network = train(&train_set, &config).unwrap().network;
    build_blob(&to_spiking(&network, &ConvertOptions::default()))
        .unwrap()
        .0
}

#[test]
fn same_seed_same_bytes() {
    let first = model_bytes(7);
    assert_eq!(first, model_bytes(7));
    assert_ne!(first, model_bytes(8));
}
