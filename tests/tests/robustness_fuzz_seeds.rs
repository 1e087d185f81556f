//! The seed corpora of the fuzz targets in `fuzz/`: how they are made, and a check that the
//! committed seeds are still models this runtime accepts (a format change that invalidates them
//! fails here, not silently in a fuzz run that never gets past the loader's first checks).
//!
//! Regenerate the seeds with
//! `PICOSPIKE_WRITE_FUZZ_SEEDS=1 cargo test -p picospike-tests --test robustness_fuzz_seeds`.

use std::fs;
use std::path::{Path, PathBuf};

use picospike_runtime::{Model, Network};
use picospike_tests::{fuzz_run_input, fuzz_seed_models, sample_input};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the repository")
        .to_path_buf()
}

/// `load_and_run` flags of the seeds: refit (so that mutations reach the body checks), 15 steps.
const RUN_FLAGS: u8 = 0b10 | (15 << 2);

/// All seed models, with the board models (`boards/models/<name>/model.pspk`) of the checkout.
fn seeds() -> Vec<(String, Vec<u8>)> {
    let mut seeds: Vec<(String, Vec<u8>)> = fuzz_seed_models()
        .into_iter()
        .map(|(name, blob)| (name.to_string(), blob))
        .collect();
    let mut boards: Vec<PathBuf> = fs::read_dir(repo_root().join("boards/models"))
        .map(|dir| dir.filter_map(|entry| Some(entry.ok()?.path())).collect())
        .unwrap_or_default();
    boards.sort();
    for dir in boards {
        if let (Ok(blob), Some(name)) = (fs::read(dir.join("model.pspk")), dir.file_name()) {
            // The fuzz inputs carry the blob's length in a u16, and a fuzzer mutating a
            // 200 KB seed mostly re-tests the checksum: large board models are left out.
            if blob.len() <= usize::from(u16::MAX) {
                seeds.push((format!("board-{}", name.to_string_lossy()), blob));
            }
        }
    }
    seeds
}

/// Every seed file this checkout should have: (path under `fuzz/corpus`, bytes).
fn expected_seed_files() -> Vec<(PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    for (name, blob) in seeds() {
        let model: Model = Model::from_bytes(&blob).unwrap();
        let input = sample_input(model.input_size(), 7);
        files.push((
            PathBuf::from("load").join(format!("seed-{name}.pspk")),
            blob.clone(),
        ));
        files.push((
            PathBuf::from("load_and_run").join(format!("seed-{name}.bin")),
            fuzz_run_input(RUN_FLAGS, &blob, &input),
        ));
    }
    files
}

/// The committed seeds are exactly what the current models produce; with
/// `PICOSPIKE_WRITE_FUZZ_SEEDS=1` the test rewrites them instead (after a format change).
#[test]
fn fuzz_seeds_are_up_to_date() {
    let corpus = repo_root().join("fuzz/corpus");
    let write = std::env::var_os("PICOSPIKE_WRITE_FUZZ_SEEDS").is_some_and(|v| v == "1");
    let mut stale = Vec::new();
    for (relative, bytes) in expected_seed_files() {
        let path = corpus.join(&relative);
        if write {
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(&path, &bytes).unwrap();
        } else if fs::read(&path).ok().as_deref() != Some(bytes.as_slice()) {
            stale.push(relative.display().to_string());
        }
    }
    assert!(
        stale.is_empty(),
        "fuzz seeds missing or stale: {stale:?}; regenerate with PICOSPIKE_WRITE_FUZZ_SEEDS=1 \
         cargo test -p picospike-tests --test robustness_fuzz_seeds"
    );
}

fn committed(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = repo_root().join("fuzz/corpus").join(target);
    let mut files: Vec<_> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            path.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("seed-"))
        })
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let bytes = fs::read(&path).unwrap();
            (path, bytes)
        })
        .collect()
}

/// Spikes per layer over `steps` steps.
fn load_and_run(blob: &[u8], input: &[u8], steps: u16) -> Vec<u32> {
    let model: Model = Model::from_bytes(blob).unwrap();
    let mut state = vec![0; model.state_words()];
    let mut network = Network::new(&model, &mut state).unwrap();
    network.run(input, steps).unwrap().spike_counts.to_vec()
}

#[test]
fn committed_fuzz_seeds_are_accepted_models() {
    // Board models come and go; the seeds made here must all be there.
    let expected = fuzz_seed_models().len();
    let load = committed("load");
    assert!(
        load.len() >= expected,
        "regenerate the seeds (see the module docs)"
    );
    for (path, blob) in &load {
        let model: Result<Model, _> = Model::from_bytes(blob);
        assert!(model.is_ok(), "{}: {model:?}", path.display());
    }
    let run = committed("load_and_run");
    assert!(
        run.len() >= expected,
        "regenerate the seeds (see the module docs)"
    );
    for (path, data) in &run {
        assert_eq!(data[0], RUN_FLAGS, "{}", path.display());
        let len = usize::from(u16::from_le_bytes([data[1], data[2]]));
        let (blob, input) = data[3..].split_at(len);
        let spikes = load_and_run(blob, input, 15);
        println!(
            "{}: spikes per layer in 15 steps {spikes:?}",
            path.display()
        );
    }
    println!(
        "{} load seeds, {} load_and_run seeds",
        load.len(),
        run.len()
    );
}

/// Largest committed corpus of one fuzz target, in bytes (minimized by `fuzz/run.sh
/// --minimize`; an unminimized corpus of a long run is ten to a hundred times larger). The
/// largest is `load_and_run`'s, whose inputs carry whole model blobs of up to 8 KB: 622 KB
/// after a 150-second run and `cmin`.
const MAX_CORPUS_BYTES: u64 = 1024 * 1024;
/// Largest number of committed inputs of one fuzz target.
const MAX_CORPUS_FILES: usize = 4000;

/// Every target's committed corpus (seeds and what long runs found, minimized) stays small
/// enough to clone and to load at the start of CI's fuzz run.
#[test]
fn committed_fuzz_corpora_are_bounded() {
    let root = repo_root();
    let mut targets = 0;
    for project in ["fuzz/corpus", "fuzz/host/corpus"] {
        let dir = root.join(project);
        let entries = fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        for entry in entries {
            let target = entry.unwrap().path();
            let (mut files, mut bytes) = (0usize, 0u64);
            for file in fs::read_dir(&target).unwrap() {
                let meta = file.unwrap().metadata().unwrap();
                assert!(meta.is_file(), "{}: only files", target.display());
                files += 1;
                bytes += meta.len();
            }
            println!("{}: {files} inputs, {bytes} bytes", target.display());
            assert!(files > 0, "{}: empty corpus", target.display());
            assert!(
                bytes <= MAX_CORPUS_BYTES && files <= MAX_CORPUS_FILES,
                "{}: {files} inputs, {bytes} bytes; minimize it (fuzz/run.sh --minimize) or raise \
                 the bound with a reason",
                target.display()
            );
            targets += 1;
        }
    }
    assert_eq!(
        targets, 6,
        "load, load_and_run, idx, csv, network_json, differential"
    );
}
