//! A validated model ([`Model`]: a container opened, decoded and checked, its weights borrowed
//! from the blob) and the writer of models ([`ModelBuilder`]).

use crate::error::{EncodeError, LoadError};
use crate::format::{self, Header, InputEncoding};
use crate::layer::Layer;
use crate::plan::{self, LayerConstants};

/// Default layer capacity of [`Model`] and [`crate::Network`].
pub const DEFAULT_MAX_LAYERS: usize = 8;

/// A validated model whose weights borrow the blob it was loaded from.
///
/// `MAX_LAYERS` is the capacity for layers, fixed at compile time.
#[derive(Clone, Debug)]
pub struct Model<'a, const MAX_LAYERS: usize = DEFAULT_MAX_LAYERS> {
    dt: f32,
    input: InputEncoding,
    state_words: usize,
    layers: heapless::Vec<Layer<'a>, MAX_LAYERS>,
    constants: heapless::Vec<LayerConstants, MAX_LAYERS>,
}

impl<'a, const MAX_LAYERS: usize> Model<'a, MAX_LAYERS> {
    /// Check a model blob completely and borrow its weights.
    ///
    /// # Errors
    /// A [`LoadError`] naming the first problem found; any byte sequence either loads or returns
    /// an error, none panics.
    ///
    /// ```
    /// # use picospike_runtime::format::InputEncoding;
    /// # use picospike_runtime::{Model, ModelBuilder};
    /// # let layers = picospike_runtime::format::doc_identity_layers();
    /// # let input = InputEncoding::vector(2, 255, 10);
    /// # let mut flash = [0u8; 128];
    /// # let blob = ModelBuilder { dt: 0.001, input, layers: &layers }.to_slice(&mut flash)?;
    /// // `blob`: a one-layer readout model, 2 inputs -> 2 outputs (identity weights).
    /// use picospike_runtime::LoadError;
    /// let model: Model = Model::from_bytes(blob)?;
    /// assert_eq!((model.input_size(), model.output_size()), (2, 2));
    ///
    /// let mut damaged = blob.to_vec();
    /// let middle = damaged.len() / 2;
    /// damaged[middle] ^= 0x01; // one flipped bit, caught by the CRC
    /// let error: Result<Model, _> = Model::from_bytes(&damaged);
    /// assert!(matches!(error, Err(LoadError::ChecksumMismatch { .. })));
    /// let error: Result<Model, _> = Model::from_bytes(b"GIF89a");
    /// assert!(matches!(error, Err(LoadError::BadMagic { found: [b'G', b'I', b'F', b'8'] })));
    /// # Ok::<(), Box<dyn core::error::Error>>(())
    /// ```
    pub fn from_bytes(blob: &'a [u8]) -> Result<Self, LoadError> {
        let (header, body) = format::open(blob, MAX_LAYERS)?;
        let mut model = Self::empty();
        model.fill(header, body)?;
        Ok(model)
    }

    /// Check a model blob completely, like [`Model::from_bytes`], building the model in
    /// `place` rather than returning it; `place` holds it after success and is `None` after an
    /// error.
    ///
    /// For a model that lives in a `static` on a small microcontroller: `from_bytes` returns
    /// the model by value, which costs about its size again in stack (`size_of::<Model>()`,
    /// about 150 bytes per layer of capacity on a 32-bit target), while here no frame holds a
    /// copy.
    ///
    /// # Errors
    /// The [`LoadError`] that [`Model::from_bytes`] returns for the same blob.
    ///
    /// ```
    /// # use picospike_runtime::format::InputEncoding;
    /// # use picospike_runtime::{Model, ModelBuilder};
    /// # let layers = picospike_runtime::format::doc_identity_layers();
    /// # let input = InputEncoding::vector(2, 255, 10);
    /// # let mut flash = [0u8; 128];
    /// # let blob = ModelBuilder { dt: 0.001, input, layers: &layers }.to_slice(&mut flash)?;
    /// // `blob`: a one-layer readout model, 2 inputs -> 2 outputs (identity weights).
    /// let mut place: Option<Model> = None; // on a board: a `static` (e.g. a `StaticCell`)
    /// let model = Model::load_into(&mut place, blob)?;
    /// assert_eq!(model.output_size(), 2);
    ///
    /// assert!(Model::load_into(&mut place, &blob[1..]).is_err());
    /// assert!(place.is_none());
    /// # Ok::<(), Box<dyn core::error::Error>>(())
    /// ```
    pub fn load_into<'p>(
        place: &'p mut Option<Self>,
        blob: &'a [u8],
    ) -> Result<&'p Self, LoadError> {
        *place = None;
        let (header, body) = format::open(blob, MAX_LAYERS)?;
        if let Err(e) = place.insert(Self::empty()).fill(header, body) {
            *place = None;
            return Err(e);
        }
        // Always `Some` here (just filled); the error only keeps this path free of panics.
        place.as_ref().ok_or(LoadError::Malformed { part: "body" })
    }

    /// A model with no layers, to be filled by `Model::fill`; never handed out unfilled.
    const fn empty() -> Self {
        Model {
            dt: 0.0,
            input: InputEncoding::vector(0, 0, 0),
            state_words: 0,
            layers: heapless::Vec::new(),
            constants: heapless::Vec::new(),
        }
    }

    /// Decode and validate the body of a blob whose container [`format::open`] accepted. The
    /// layers are decoded one at a time straight into `self.layers` and validated by
    /// reference, so that no frame holds a second copy of the layer list.
    fn fill(&mut self, header: Header, body: &'a [u8]) -> Result<(), LoadError> {
        format::decode_body(body, &mut self.dt, &mut self.input, &mut self.layers)?;
        self.state_words = plan::check_model(
            self.dt,
            &self.input,
            &self.layers,
            &header,
            &mut self.constants,
        )?;
        Ok(())
    }

    /// Time step in seconds.
    pub fn dt(&self) -> f32 {
        self.dt
    }

    /// The input encoding recorded by the exporter.
    pub fn input(&self) -> InputEncoding {
        self.input
    }

    /// Number of input bytes per sample.
    pub fn input_size(&self) -> usize {
        self.input.size()
    }

    /// Number of output values (classes).
    pub fn output_size(&self) -> usize {
        self.layers.last().map_or(0, Layer::outputs)
    }

    /// Number of time steps the model was converted for.
    pub fn default_timesteps(&self) -> u16 {
        self.input.timesteps
    }

    /// Exact size of the state buffer [`crate::Network::new`] needs, in `i32` words.
    pub fn state_words(&self) -> usize {
        self.state_words
    }

    /// The layers, first to last.
    pub fn layers(&self) -> &[Layer<'a>] {
        &self.layers
    }

    pub(crate) fn constants(&self) -> &[LayerConstants] {
        &self.constants
    }
}

/// Most layers [`ModelBuilder`] writes: it validates what it wrote with a `Model` of this
/// capacity, which costs about 110 bytes of stack per layer.
pub const WRITER_MAX_LAYERS: usize = 32;

/// Writes a model in the container format; the host tools and the tests share it.
#[derive(Clone, Copy, Debug)]
pub struct ModelBuilder<'b, 'a> {
    /// Time step in seconds.
    pub dt: f32,
    /// How raw input bytes map to the network's input.
    pub input: InputEncoding,
    /// The layers, first to last.
    pub layers: &'b [Layer<'a>],
}

impl ModelBuilder<'_, '_> {
    /// State words the encoded model will declare.
    pub fn state_words(&self) -> usize {
        self.layers.iter().map(Layer::state_words).sum()
    }

    /// Encode the model into `out`, returning the written prefix.
    ///
    /// The result is loaded back with [`Model::from_bytes`] before it is returned, so a model
    /// this function writes is one the runtime accepts (with at most [`WRITER_MAX_LAYERS`]
    /// layers).
    ///
    /// # Errors
    /// [`EncodeError::BufferTooSmall`] if `out` is too short, [`EncodeError::Invalid`] with the
    /// loader's reason if the model is not valid.
    pub fn to_slice<'o>(&self, out: &'o mut [u8]) -> Result<&'o mut [u8], EncodeError> {
        let blob = format::encode(self.dt, self.input, self.layers, self.state_words(), out)?;
        Model::<'_, WRITER_MAX_LAYERS>::from_bytes(blob).map_err(EncodeError::Invalid)?;
        Ok(blob)
    }

    /// Encode the model into a new vector (host only).
    ///
    /// # Errors
    /// [`EncodeError::Invalid`] if the loader would reject the model.
    #[cfg(feature = "std")]
    pub fn to_vec(&self) -> Result<std::vec::Vec<u8>, EncodeError> {
        let mut out = std::vec![0u8; format::encoded_size_bound(self.layers)];
        let len = self.to_slice(&mut out)?.len();
        out.truncate(len);
        Ok(out)
    }
}
