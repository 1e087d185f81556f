//! `picospike export`: quantize a trained network and write the model (and the firmware module).

use std::path::{Path, PathBuf};

use clap::Args;

use super::convert::ConversionArgs;
use super::{at_least_one, create_dir, data_inputs, dir_files, print_stdout, Result};
use crate::model_file;
use crate::output;
use crate::quantized::{self, ModelSizes};
use crate::recipe::{self, ConvertOptions};
use crate::source::{DataSpec, Split};

/// Options of `picospike export`.
#[derive(Args, Clone, Debug)]
pub struct ExportArgs {
    /// Trained network (JSON from `picospike train`).
    pub network: PathBuf,
    /// The model file to write (postcard; atomically for a regular file, directly into a device
    /// or FIFO).
    #[arg(short, long)]
    pub output: PathBuf,
    /// How the network becomes a spiking one.
    #[command(flatten)]
    pub conversion: ConversionArgs,
    /// Also write DIR/model.pspk and DIR/model.rs (constants and test samples) for firmware
    /// (DIR is created if needed).
    #[arg(long)]
    pub rust_module: Option<PathBuf>,
    /// Test samples to put into the Rust module, from --data (needs --rust-module and --data).
    #[arg(long, value_parser = at_least_one, requires_all = ["rust_module", "data"])]
    pub module_samples: Option<usize>,
    /// Data set for --module-samples (its seeded test part); its first 1,000 test samples also
    /// measure the input density and each layer's firing activity recorded in the model (what
    /// `inspect --board` predicts the cost from).
    #[arg(long, requires = "module_samples")]
    pub data: Option<String>,
    /// Seed of the stratified split for --data (digits and CSV; default 0).
    #[arg(long, requires = "data")]
    pub split_seed: Option<u64>,
}

/// `picospike export`: quantize a trained network and write the model (and the firmware module).
///
/// # Errors
/// A one-line error naming the file that could not be read or written.
pub fn export_network(
    network_path: &Path,
    options: &ConvertOptions,
    output: &Path,
    rust_module: Option<(&Path, Option<&DataSpec>, usize)>,
) -> Result<ModelSizes> {
    // Every output before any work: a bad --rust-module fails before -o is written.
    let mut inputs = vec![network_path.to_owned()];
    let mut files = vec![output.to_owned()];
    let mut dirs = Vec::new();
    if let Some((dir, spec, _)) = rust_module {
        if let Some(spec) = spec {
            inputs.extend(data_inputs(&spec.source));
        }
        files.extend(dir_files(dir, &["model.pspk", "model.rs"]));
        dirs.push(dir.to_owned());
    }
    output::check_plan(&inputs, &files, &dirs)?;
    let network = model_file::load_network(network_path)?;
    super::check_layers(network_path, &network)?;
    let spiking = recipe::to_spiking(&network, options);
    let (blob, mut sizes) = super::build_bounded_blob(network_path, &spiking)?;
    let test = match rust_module {
        Some((_, Some(spec), _)) => Some(spec.load_test(Split::Seeded, Some(sizes.input_size))?),
        _ => None,
    };
    // With test data at hand, record the input density and each layer's firing activity in the
    // model (at most the first 1,000 samples): `inspect --board` predicts the cost from them.
    let blob = match &test {
        Some(test) if !test.is_empty() => {
            let inputs: Vec<&[u8]> = test.images.iter().take(1000).map(Vec::as_slice).collect();
            crate::cost::record_activity(&blob, &inputs)?
        }
        _ => blob,
    };
    // The recorded activity is part of the blob: report the size actually written.
    sizes.flash_bytes = blob.len();
    quantized::write_blob(output, &blob)?;
    if let Some((dir, _, samples)) = rust_module {
        create_dir(dir)?;
        quantized::write_rust_module(dir, &blob, test.as_ref(), samples)?;
    }
    Ok(sizes)
}

/// Runs `picospike export`.
///
/// # Errors
/// A [`CommandError`](super::CommandError) naming the file or option.
pub fn run(args: &ExportArgs) -> Result<()> {
    let spec = args.data.as_ref().map(|source| DataSpec {
        split_seed: args.split_seed.unwrap_or(0),
        ..DataSpec::new(source)
    });
    let module = args
        .rust_module
        .as_deref()
        .map(|dir| (dir, spec.as_ref(), args.module_samples.unwrap_or(0)));
    let sizes = export_network(
        &args.network,
        &args.conversion.options(),
        &args.output,
        module,
    )?;
    // With the model on standard output, the report goes to standard error.
    let mut text = format!(
        "wrote {}: {} bytes flash, {} bytes state RAM ({} words), {} inputs, {} outputs",
        args.output.display(),
        sizes.flash_bytes,
        sizes.ram_bytes,
        sizes.state_words,
        sizes.input_size,
        sizes.output_size
    );
    if let Some(dir) = &args.rust_module {
        text += &format!(
            "\nwrote {}/model.rs and {}/model.pspk",
            dir.display(),
            dir.display()
        );
    }
    text.push('\n');
    if output::is_stdout(&args.output) {
        let _ = std::io::Write::write_all(&mut std::io::stderr(), text.as_bytes());
        Ok(())
    } else {
        print_stdout(&text)
    }
}
