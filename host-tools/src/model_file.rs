//! Saving and loading a [`FloatNetwork`] as JSON.
//!
//! Saves go through [`crate::output`] (atomic for regular files); loads are bounded by
//! [`MAX_NETWORK_BYTES`] and check that the network's shapes fit together before anything uses
//! it, so a hostile or mistaken file is an error, never a panic or a huge allocation.

use std::path::{Path, PathBuf};

use serde::Serialize;

use picospike_runtime::neuron::Neuron;

use crate::input::{read_bounded, InputError, MAX_NETWORK_BYTES};
use crate::output::{self, OutputError};
use crate::reference::FloatNetwork;

/// Errors from saving or loading a network file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ModelFileError {
    /// Reading failed or the file is larger than [`MAX_NETWORK_BYTES`].
    #[error(transparent)]
    Read(#[from] InputError),
    /// Writing failed.
    #[error(transparent)]
    Write(#[from] OutputError),
    /// The file is not a JSON float network.
    #[error("{path}: not a picospike float network (JSON): {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's error.
        #[source]
        source: serde_json::Error,
    },
    /// The JSON parses but does not describe a consistent network.
    #[error("{path}: not a usable float network: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is inconsistent.
        reason: String,
    },
}

/// Writes `value` as pretty JSON to `path` through [`crate::output`] (atomic for a regular file).
///
/// # Errors
/// [`ModelFileError::Write`] naming `path`.
pub fn save_json<T: Serialize>(path: &Path, value: &T) -> Result<(), ModelFileError> {
    output::write_with(path, |w| {
        serde_json::to_writer_pretty(&mut *w, value)?;
        w.write_all(b"\n")
    })?;
    Ok(())
}

/// Saves a network to `path` (JSON, atomic).
///
/// # Errors
/// See [`save_json`].
pub fn save_network(path: &Path, net: &FloatNetwork) -> Result<(), ModelFileError> {
    save_json(path, net)
}

/// Loads a network saved by [`save_network`], reading at most [`MAX_NETWORK_BYTES`].
///
/// # Errors
/// [`ModelFileError::Read`] if the file cannot be read or is too large,
/// [`ModelFileError::Parse`] if it is not a network, [`ModelFileError::Invalid`] if its shapes
/// or values do not fit together.
pub fn load_network(path: &Path) -> Result<FloatNetwork, ModelFileError> {
    let bytes = read_bounded(path, MAX_NETWORK_BYTES, "picospike float network (JSON)")?;
    network_from_slice(path, &bytes)
}

/// Parses and checks a network from JSON bytes; `path` only names the source in errors.
///
/// # Errors
/// [`ModelFileError::Parse`] or [`ModelFileError::Invalid`].
pub fn network_from_slice(path: &Path, bytes: &[u8]) -> Result<FloatNetwork, ModelFileError> {
    let net: FloatNetwork =
        serde_json::from_slice(bytes).map_err(|source| ModelFileError::Parse {
            path: path.to_owned(),
            source,
        })?;
    check_network(&net).map_err(|reason| ModelFileError::Invalid {
        path: path.to_owned(),
        reason,
    })?;
    Ok(net)
}

/// Checks what every consumer of a network relies on: shapes that chain, one weight per
/// input-output pair, one bias per output, a readout last, a positive finite `dt`, a full scale
/// and at least one step. Values are checked for finiteness by the quantizer, which names them.
fn check_network(net: &FloatNetwork) -> Result<(), String> {
    if !(net.dt.is_finite() && net.dt > 0.0) {
        return Err(format!("dt {} s, expected a positive time step", net.dt));
    }
    if net.input.full_scale == 0 || net.input.timesteps == 0 {
        return Err("input full_scale and timesteps must be at least 1".into());
    }
    let Some(last) = net.layers.last() else {
        return Err("no layers".into());
    };
    if !matches!(last.neuron, Neuron::Readout) || !last.kind.has_neurons() {
        return Err("the last layer must be the readout".into());
    }
    if !net.layers[0].kind.has_neurons() {
        return Err("the first layer cannot be a pool".into());
    }
    let mut inputs = net.input.size();
    for (i, layer) in net.layers.iter().enumerate() {
        if layer.inputs != inputs || layer.inputs == 0 || layer.outputs == 0 {
            return Err(format!(
                "layer {i} takes {} inputs and gives {} outputs, expected {inputs} inputs (the previous layer's outputs) and at least one output",
                layer.inputs, layer.outputs
            ));
        }
        if let Some(problem) = layer.problem() {
            return Err(format!("layer {i}: {problem}"));
        }
        if i + 1 < net.layers.len()
            && matches!(layer.neuron, Neuron::Readout)
            && layer.kind.has_neurons()
        {
            return Err(format!(
                "layer {i} is a readout, but only the last layer may be"
            ));
        }
        inputs = layer.outputs;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use picospike_runtime::format::InputEncoding;
    use picospike_runtime::neuron::Neuron;
    use picospike_runtime::synapse::Synapse;

    use crate::reference::{FloatKind, FloatLayer};

    fn net() -> FloatNetwork {
        FloatNetwork {
            dt: 0.001,
            input: InputEncoding::vector(1, 16, 50),
            layers: vec![FloatLayer {
                kind: FloatKind::Dense,
                inputs: 1,
                outputs: 2,
                weights: vec![0.1, -2.5e-7],
                biases: vec![1.0, f32::MIN_POSITIVE],
                neuron: Neuron::Readout,
                synapse: Synapse::Lowpass { tau: 0.005 },
            }],
        }
    }

    #[test]
    fn roundtrip_is_exact_and_leaves_no_temp_file() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("m.json");
        save_network(&p, &net()).unwrap();
        save_network(&p, &net()).unwrap(); // overwrite
        assert_eq!(load_network(&p).unwrap(), net());
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
    }

    #[test]
    fn errors_name_the_file() {
        let d = tempfile::tempdir().unwrap();
        let e = save_network(&d.path().join("no/such/dir/m.json"), &net()).unwrap_err();
        assert!(e.to_string().contains("no/such/dir/m.json"), "{e}");
        let p = d.path().join("bad.json");
        std::fs::write(&p, b"{\"dt\": 1}").unwrap();
        let e = load_network(&p).unwrap_err();
        assert!(matches!(e, ModelFileError::Parse { .. }));
        assert!(e.to_string().contains("bad.json"), "{e}");
        assert!(matches!(
            load_network(&d.path().join("x")),
            Err(ModelFileError::Read(_))
        ));
        // Parses, but the weights do not match the shape.
        let mut bad = net();
        bad.layers[0].weights.pop();
        std::fs::write(&p, serde_json::to_vec(&bad).unwrap()).unwrap();
        let e = load_network(&p).unwrap_err();
        assert!(matches!(e, ModelFileError::Invalid { .. }), "{e}");
        assert!(e.to_string().contains("1 weights"), "{e}");
    }
}
