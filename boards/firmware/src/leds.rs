//! Show a class on a row of GPIO outputs.

use embedded_hal::digital::{OutputPin, PinState};

/// `N` output pins showing a class number in binary, bit 0 on `pins[0]`.
///
/// With `active_low` (LEDs wired to VCC, as on the nRF52840-DK), a set bit drives the pin low.
/// Classes that do not fit in `N` bits show their low `N` bits.
///
/// ```
/// # use embedded_hal::digital::{ErrorType, OutputPin};
/// # struct Led(bool);
/// # impl ErrorType for Led { type Error = core::convert::Infallible; }
/// # impl OutputPin for Led {
/// #     fn set_low(&mut self) -> Result<(), Self::Error> { self.0 = false; Ok(()) }
/// #     fn set_high(&mut self) -> Result<(), Self::Error> { self.0 = true; Ok(()) }
/// # }
/// use picospike_firmware::ClassLeds;
/// let mut leds = ClassLeds::new([Led(false), Led(false), Led(false)], false);
/// leds.show(5).unwrap();
/// let [a, b, c] = leds.release();
/// assert_eq!((a.0, b.0, c.0), (true, false, true));
/// ```
pub struct ClassLeds<P, const N: usize> {
    pins: [P; N],
    active_low: bool,
}

impl<P: OutputPin, const N: usize> ClassLeds<P, N> {
    /// Take ownership of the pins (they are not touched until [`show`](Self::show) or
    /// [`clear`](Self::clear)).
    pub fn new(pins: [P; N], active_low: bool) -> Self {
        Self { pins, active_low }
    }

    /// Light the LEDs for the set bits of `class`, turn the others off.
    ///
    /// # Errors
    ///
    /// The first pin error; later pins are then left as they were.
    pub fn show(&mut self, class: u16) -> Result<(), P::Error> {
        for (bit, pin) in self.pins.iter_mut().enumerate() {
            let on = bit < 16 && class & (1 << bit) != 0;
            pin.set_state(PinState::from(on != self.active_low))?;
        }
        Ok(())
    }

    /// Turn every LED off.
    ///
    /// # Errors
    ///
    /// The first pin error.
    pub fn clear(&mut self) -> Result<(), P::Error> {
        for pin in &mut self.pins {
            pin.set_state(PinState::from(self.active_low))?;
        }
        Ok(())
    }

    /// Give the pins back.
    pub fn release(self) -> [P; N] {
        self.pins
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use embedded_hal_mock::eh1::digital::{Mock, State, Transaction};

    fn pin(states: &[State]) -> Mock {
        Mock::new(
            &states
                .iter()
                .map(|s| Transaction::set(*s))
                .collect::<Vec<_>>(),
        )
    }

    #[test]
    fn shows_class_in_binary_active_high() {
        use State::{High, Low};
        let pins = [pin(&[High, Low]), pin(&[Low, Low]), pin(&[High, Low])];
        let mut leds = ClassLeds::new(pins, false);
        leds.show(5).unwrap();
        leds.clear().unwrap();
        for mut p in leds.release() {
            p.done();
        }
    }

    #[test]
    fn active_low_inverts_and_high_bits_are_dropped() {
        use State::{High, Low};
        // class 6 = 0b110 on two LEDs active-low: bit0 off (high), bit1 on (low).
        let pins = [pin(&[High, High]), pin(&[Low, High])];
        let mut leds = ClassLeds::new(pins, true);
        leds.show(6).unwrap();
        leds.clear().unwrap();
        for mut p in leds.release() {
            p.done();
        }
    }
}
