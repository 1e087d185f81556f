//! The serve loop of every board that speaks the UART protocol: load the model, then answer
//! requests forever.
//!
//! The three real boards and the emulated UART server differ only in their peripherals and in
//! where they log; they hand both over ([`embedded_io`] halves, a [`TickCounter`], an
//! [`Events`] sink) and [`serve`] does the rest. With features `defmt` and `cortex-m`,
//! `DefmtEvents` is the real boards' sink: a defmt log line per reply and the class on LEDs.

use embedded_io::{Read, Write};
use picospike_runtime::{LoadError, Model, Network};

use crate::classifier::NetworkClassifier;
use crate::protocol::{model_id, Response, Server};
use crate::TickCounter;

/// The loaded model, as [`Events::loaded`] reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Loaded {
    /// Bytes per sample.
    pub inputs: usize,
    /// Output values.
    pub outputs: usize,
    /// Default timesteps.
    pub steps: u16,
    /// `i32` words of state the network uses.
    pub state_words: usize,
}

/// What a board does besides answering: logging, LEDs. Every method defaults to nothing.
pub trait Events {
    /// The model loaded and the server is about to listen.
    fn loaded(&mut self, _model: &Loaded) {}
    /// `response` is about to be sent.
    ///
    /// Runs before the reply is written, so that a host which sends its next request as soon
    /// as it has the reply finds the board already reading (slow diagnostics here cost latency,
    /// never bytes).
    fn response(&mut self, _response: &Response) {}
    /// Reading or writing the UART failed; the server goes on.
    fn uart_error(&mut self, _error: &dyn core::fmt::Debug) {}
}

/// Load `blob` with a layer capacity of `L`, bind it to `state` and serve the protocol on
/// `rx`/`tx` with request frames of up to `N` bytes, forever.
///
/// # Errors
///
/// Returns only if the model does not load or `state` is too small for it.
pub fn serve<const N: usize, const L: usize, R, W, T, E>(
    blob: &[u8],
    state: &mut [i32],
    ticks: T,
    rx: &mut R,
    tx: &mut W,
    events: &mut E,
) -> LoadError
where
    R: Read,
    W: Write,
    T: TickCounter,
    E: Events,
{
    // Built in place: `from_bytes` would return the model by value, a second copy in this
    // frame, which lives as long as the server.
    let mut place = None;
    let model = match Model::<L>::load_into(&mut place, blob) {
        Ok(model) => model,
        Err(e) => return e,
    };
    let mut network = match Network::new(model, state) {
        Ok(network) => network,
        Err(e) => return e,
    };
    events.loaded(&Loaded {
        inputs: model.input_size(),
        outputs: model.output_size(),
        steps: model.default_timesteps(),
        state_words: model.state_words(),
    });
    let classifier = NetworkClassifier::with_capacity(model, &mut network);
    let mut server: Server<_, _, N> = Server::new(classifier, ticks, model_id(blob));
    loop {
        if let Err(e) = server.poll(rx, tx, |response| events.response(response)) {
            events.uart_error(&e);
        }
    }
}

#[cfg(all(feature = "defmt", feature = "cortex-m"))]
pub use self::defmt_events::DefmtEvents;

#[cfg(all(feature = "defmt", feature = "cortex-m"))]
mod defmt_events {
    use embedded_hal::digital::OutputPin;

    use super::{Events, Loaded};
    use crate::protocol::Response;
    use crate::ClassLeds;

    /// The real boards' [`Events`]: one defmt line per reply (with the stack peak so far) and
    /// the class shown on `K` LEDs.
    pub struct DefmtEvents<P, const K: usize> {
        /// Board name for the first log line.
        pub board: &'static str,
        /// Model name for the first log line.
        pub model_name: &'static str,
        /// What a reply's `ticks` count (`cycles`, `micros`), for the log.
        pub tick_unit: &'static str,
        /// LEDs showing the last class.
        pub leds: ClassLeds<P, K>,
    }

    impl<P: OutputPin, const K: usize> Events for DefmtEvents<P, K> {
        fn loaded(&mut self, model: &Loaded) {
            defmt::info!(
                "board={=str} model={=str} inputs={} outputs={} steps={} state_words={}",
                self.board,
                self.model_name,
                model.inputs,
                model.outputs,
                model.steps,
                model.state_words
            );
        }

        fn response(&mut self, response: &Response) {
            if let Response::Inferred(reply) = response {
                let _ = self.leds.show(reply.class);
                defmt::info!(
                    "id={} class={} outputs={} spikes={} events={} {=str}={} stack_peak={}",
                    reply.id,
                    reply.class,
                    reply.outputs.as_slice(),
                    reply.spike_counts.as_slice(),
                    reply.synaptic_events,
                    self.tick_unit,
                    reply.ticks,
                    crate::cortex_m::stack_peak()
                );
            } else {
                defmt::info!("{}", response);
            }
        }

        fn uart_error(&mut self, error: &dyn core::fmt::Debug) {
            defmt::warn!("uart: {}", defmt::Debug2Format(error));
        }
    }
}
