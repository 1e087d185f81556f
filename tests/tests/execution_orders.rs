//! The two execution orders give the same bits: `Network` (every layer once per step) and
//! `LayeredNetwork` (each layer over the whole time window, one neuron at a time). Same class,
//! outputs, spike counts per layer and synaptic events, and the same spikes of every layer at
//! every step; on every committed model with real images, and on small networks of every
//! neuron kind, synapse and layer kind (`runtime/SEMANTICS.md`, "Execution orders").

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use picospike_host::data::{load_csv, load_mnist_test, CsvOptions};
use picospike_host::quantize::quantize;
use picospike_host::quantized::layered_state_words_fn;
use picospike_host::reference::FloatNetwork;
use picospike_runtime::neuron::Neuron;
use picospike_runtime::synapse::Synapse;
use picospike_runtime::{LayeredNetwork, Model, Network};
use picospike_tests::{sample_input, small_conv_network, small_network};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the repository")
        .to_path_buf()
}

/// Run `input` for `steps` steps in both orders and require the same bits; returns the
/// prediction's class.
fn same_in_both_orders(model: &Model, input: &[u8], steps: u16, what: &str) -> u16 {
    let mut state = vec![0i32; model.state_words()];
    let mut network = Network::new(model, &mut state).unwrap();
    network.reset();
    network.set_input(input).unwrap();
    // (layer, value, step) -> count, from the step order's events.
    let mut stepped: BTreeMap<(usize, usize, u16), u32> = BTreeMap::new();
    for step in 0..steps {
        network.step();
        for layer in 0..network.layer_count() {
            for spike in network.layer_spikes(layer).unwrap() {
                *stepped.entry((layer, spike.index, step)).or_default() += spike.count;
            }
        }
    }
    let expected = network.prediction();

    let mut layered_state = vec![0i32; LayeredNetwork::state_words(model, steps)];
    let mut layered = LayeredNetwork::new(model, &mut layered_state, steps).unwrap();
    let got = layered.run(input, steps).unwrap();
    assert_eq!(got, expected, "{what}: predictions differ at {steps} steps");
    // Every layer's spikes at every step, from rasters at every boundary.
    let words = LayeredNetwork::state_words_with_rasters(model, steps);
    let mut layered_state = vec![0i32; words];
    let mut layered = LayeredNetwork::with_rasters(model, &mut layered_state, steps).unwrap();
    assert_eq!(
        layered.run(input, steps).unwrap(),
        expected,
        "{what}: predictions differ at {steps} steps with rasters only"
    );
    let mut by_layers: BTreeMap<(usize, usize, u16), u32> = BTreeMap::new();
    for (layer, l) in model.layers().iter().enumerate() {
        // Every layer but the readout has a raster here.
        if layered.count_bits(layer).is_none() {
            assert_eq!(
                layer + 1,
                model.layers().len(),
                "{what}: layer {layer} has no raster"
            );
            continue;
        }
        for value in 0..l.outputs() {
            for step in 0..steps {
                let count = layered.count(layer, value, step).unwrap();
                if count != 0 {
                    by_layers.insert((layer, value, step), count);
                }
            }
        }
    }
    assert_eq!(
        by_layers, stepped,
        "{what}: spike rasters differ at {steps} steps"
    );
    expected.class
}

fn committed_models() -> Vec<(String, Vec<u8>)> {
    let mut dirs: Vec<PathBuf> = fs::read_dir(repo().join("boards/models"))
        .expect("boards/models is in the checkout")
        .map(|entry| entry.unwrap().path())
        .collect();
    dirs.sort();
    dirs.into_iter()
        .map(|dir| {
            let name = dir.file_name().unwrap().to_string_lossy().into_owned();
            let blob = fs::read(dir.join("model.pspk"))
                .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
            (name, blob)
        })
        .collect()
}

/// Inputs from the committed fixtures for a model of `size` input bytes.
fn fixture_inputs(size: usize, count: usize) -> Vec<Vec<u8>> {
    let fixtures = repo().join("tests/fixtures");
    let images = match size {
        784 => {
            load_mnist_test(&fixtures.join("mnist"), 10)
                .unwrap_or_else(|e| {
                    panic!("the MNIST fixture is needed in tests/fixtures/mnist: {e}")
                })
                .images
        }
        64 => {
            let path = fixtures.join("digits/digits-head200.csv");
            load_csv(&path, &CsvOptions::new(10))
                .unwrap_or_else(|e| {
                    panic!("the digits fixture is needed at {}: {e}", path.display())
                })
                .images
        }
        _ => panic!("no fixture for a model of {size} inputs"),
    };
    images.into_iter().take(count).collect()
}

#[test]
fn every_committed_model_gives_the_same_bits_in_both_orders() {
    let models = committed_models();
    assert!(
        models.len() >= 5,
        "found only {} board models",
        models.len()
    );
    for (name, blob) in models {
        let model: Model = Model::from_bytes(&blob).unwrap();
        let inputs = fixture_inputs(model.input_size(), 12);
        assert_eq!(inputs.len(), 12);
        let mut correct_classes = std::collections::BTreeSet::new();
        // The model's own step count, one that ends inside a run of counts and one past two.
        for steps in [model.default_timesteps(), 7, 37] {
            for (i, input) in inputs.iter().enumerate() {
                let class = same_in_both_orders(&model, input, steps, &format!("{name} #{i}"));
                correct_classes.insert(class);
            }
        }
        // Real images reach more than one class: the comparison is not of silent networks.
        assert!(
            correct_classes.len() > 1,
            "{name}: every input gave one class"
        );
    }
}

/// Small networks of each neuron kind, synapse and layer kind; first layers clocked, stepped
/// and filtered.
fn variants() -> Vec<(String, FloatNetwork)> {
    let lowpass = Synapse::Lowpass { tau: 0.005 };
    let mut networks = Vec::new();
    for relu in [false, true] {
        for synapse in [Synapse::None, lowpass] {
            let kind = if relu { "relu" } else { "lif" };
            networks.push((
                format!("dense {kind} {synapse:?}"),
                small_network(12, 20, 4, relu, synapse),
            ));
            // A pool sums up to four counts: after spiking ReLU (255 a step) the loader refuses it.
            for pool in [false, !relu] {
                networks.push((
                    format!("conv {kind} pool {pool} {synapse:?}"),
                    small_conv_network(relu, pool, synapse),
                ));
            }
            // The first layer filtered too.
            let mut filtered = small_network(12, 20, 4, relu, synapse);
            filtered.layers[0].synapse = lowpass;
            networks.push((format!("dense {kind} filtered first {synapse:?}"), filtered));
        }
    }
    // LIF that cannot run on spike clocks (a refractory period below a step) and one that
    // leaves no time to integrate.
    for tau_ref in [0.0, 0.0004, 0.001] {
        let mut network = small_network(12, 20, 4, false, Synapse::None);
        if let Neuron::Lif { tau_ref: t, .. } = &mut network.layers[0].neuron {
            *t = tau_ref;
        }
        networks.push((format!("dense lif tau_ref {tau_ref}"), network));
    }
    networks
}

#[test]
fn small_networks_of_every_kind_give_the_same_bits_in_both_orders() {
    for (name, network) in variants() {
        let blob = quantize(&network).unwrap_or_else(|e| panic!("{name}: {e}"));
        let model: Model = Model::from_bytes(&blob).unwrap();
        for salt in 0..6 {
            let input = sample_input(model.input_size(), salt);
            for steps in [0, 1, 16, 33, 70] {
                same_in_both_orders(&model, &input, steps, &format!("{name} salt {salt}"));
            }
        }
    }
}

#[test]
fn the_layered_state_of_the_conv_network_fits_a_cortex_m0() {
    let blob = fs::read(repo().join("boards/models/mnist-conv/model.pspk")).unwrap();
    let model: Model = Model::from_bytes(&blob).unwrap();
    let words = LayeredNetwork::state_words(&model, 10);
    println!(
        "mnist-conv at 10 steps: {} bytes layer by layer, {} bytes step by step",
        words * 4,
        model.state_words() * 4
    );
    let mut state = vec![0i32; words];
    let layered = LayeredNetwork::new(&model, &mut state, 10).unwrap();
    let bits: Vec<Option<u8>> = (0..4).map(|l| layered.count_bits(l)).collect();
    println!("count bits per layer (None: passed on as the next layer's sums): {bits:?}");
    assert!(words * 4 <= 12 * 1024, "{} bytes", words * 4);
    assert_eq!(bits[3], None, "the readout has no raster");
    let mut short = vec![0i32; words - 1];
    assert!(LayeredNetwork::new(&model, &mut short, 10).is_err());
}

#[test]
fn a_layered_state_runs_any_step_count_up_to_its_own() {
    let network = small_conv_network(false, true, Synapse::Lowpass { tau: 0.005 });
    let blob = quantize(&network).unwrap();
    let model: Model = Model::from_bytes(&blob).unwrap();
    let input = sample_input(model.input_size(), 3);
    let mut state = vec![0i32; LayeredNetwork::state_words(&model, 40)];
    let mut layered = LayeredNetwork::new(&model, &mut state, 40).unwrap();
    let mut step_state = vec![0i32; model.state_words()];
    let mut network = Network::new(&model, &mut step_state).unwrap();
    for steps in [40, 1, 17, 0, 32] {
        let expected = network.run(&input, steps).unwrap().outputs.to_vec();
        assert_eq!(layered.run(&input, steps).unwrap().outputs, &expected[..]);
    }
    assert_eq!(
        layered.run(&input, 41).unwrap_err().to_string(),
        "41 steps asked for, the layer-major state holds at most 40"
    );
}

/// The committed model modules carry the layer-major order's state formula that `picospike
/// export --rust-module` writes for their model (the firmware sizes its buffer from it). Update
/// them with `PICOSPIKE_WRITE_MODEL_MODULES=1 cargo test -p picospike-tests --test
/// execution_orders committed_model_modules`.
#[test]
fn committed_model_modules_carry_their_layered_state_formula() {
    let write = std::env::var_os("PICOSPIKE_WRITE_MODEL_MODULES").is_some();
    for (name, blob) in committed_models() {
        let model: Model = Model::from_bytes(&blob).unwrap();
        let expected = layered_state_words_fn(&model);
        let path = repo().join("boards/models").join(&name).join("model.rs");
        let text = fs::read_to_string(&path).unwrap();
        if write {
            let kept = match text.find("/// `i32` words of state the layer-major order") {
                Some(at) => &text[..at],
                None => &text[..],
            };
            fs::write(&path, format!("{kept}{expected}")).unwrap();
            continue;
        }
        assert!(
            text.ends_with(&expected),
            "{}: not the formula export writes; update it (see this test's docs):\n{expected}",
            path.display()
        );
    }
}

/// The committed model modules, compiled: their `layered_state_words` against the runtime's.
macro_rules! model_modules {
    ($($name:ident => $dir:literal),* $(,)?) => {
        $(
            #[allow(dead_code)]
            mod $name {
                include!(concat!("../../boards/models/", $dir, "/model.rs"));
            }
        )*

        #[test]
        fn the_model_modules_state_formula_is_the_runtimes_at_every_step_count() {
            $(
                let model: Model = Model::from_bytes($name::MODEL).unwrap();
                for steps in [0u16, 1, 2, 3, 7, 10, 16, 20, 31, 33, 100, 1000, u16::MAX] {
                    assert_eq!(
                        $name::layered_state_words(steps),
                        LayeredNetwork::state_words(&model, steps),
                        "{} at {steps} steps",
                        $dir
                    );
                }
            )*
        }
    };
}

model_modules! {
    demo => "demo",
    digits => "digits",
    mnist_conv => "mnist-conv",
    mnist_conv_x3 => "mnist-conv-x3",
    mnist_dense => "mnist-dense",
}
