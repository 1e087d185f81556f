#!/usr/bin/env python3
"""A seeded fault-injecting proxy for the board UART link (boards/PROTOCOL.md).

`FaultProxy` sits between the client (tools/pspk_uart.py) and a board transport (QEMU's
emulated UART on stdio, a socket, a serial port) and damages whole frames, in both directions,
the way a bad line does:

  flip      one bit of one byte inverted (the terminator too: two frames then run together)
  drop      one byte lost
  duplicate one byte received twice
  truncate  the frame cut short: the rest lost, sometimes its terminator too
  garbage   1 to 8 random bytes inserted (zeros included: a stray frame)
  delay     the frame held back, sometimes longer than the client's timeout

Each non-empty frame gets at most one fault, with probability `rate`; the kind is the one with
the fewest injections so far (ties broken by the seeded generator), so that every kind is
exercised about equally. Frames stay in order. With the same seed, the same bytes and the same
timing decisions the damage is the same.

    pspk_uart.py --exec "QEMU..." faults --reference "REF --serve" --faults 1000 --samples 100

(`boards/run-qemu.sh qemu-mps2-an386 --uart --faults N` runs this against the emulated board.)
"""
import random
import time

KINDS = ("flip", "drop", "duplicate", "truncate", "garbage", "delay")


class Direction:
    """Frames of one direction: bytes collected up to each terminator, then damaged and queued
    with the time at which they may be delivered."""

    def __init__(self, proxy):
        self.proxy, self.partial, self.queue = proxy, bytearray(), []

    def feed(self, data):
        for byte in data:
            self.partial.append(byte)
            if byte == 0:
                self.proxy.schedule(self, bytes(self.partial))
                self.partial.clear()

    def due(self):
        """Bytes whose delivery time has come, in order."""
        now = time.monotonic()
        out = bytearray()
        while self.queue and self.queue[0][0] <= now:
            out += self.queue.pop(0)[1]
        return bytes(out)

    def next_release(self):
        return self.queue[0][0] if self.queue else None


class FaultProxy:
    """A transport (`write`, `read(timeout)`, `close`) that damages frames of `inner`."""

    def __init__(self, inner, seed, rate=0.3, timeout=2.0):
        self.inner, self.rate, self.timeout = inner, rate, timeout
        self.rng = random.Random(seed)
        self.enabled = True
        self.injected = {kind: 0 for kind in KINDS}
        self.to_board, self.to_host = Direction(self), Direction(self)

    def total(self):
        return sum(self.injected.values())

    def schedule(self, direction, data):
        """Damage one frame (terminator included) and queue it behind the frames before it."""
        release = time.monotonic()
        if direction.queue:
            release = max(release, direction.queue[-1][0])
        if self.enabled and len(data) > 1 and self.rng.random() < self.rate:
            least = min(self.injected.values())
            kind = self.rng.choice([k for k in KINDS if self.injected[k] == least])
            self.injected[kind] += 1
            data, delay = self.damage(kind, bytearray(data))
            release += delay
        direction.queue.append((release, bytes(data)))

    def damage(self, kind, data):
        rng = self.rng
        at = rng.randrange(len(data))
        if kind == "flip":
            data[at] ^= 1 << rng.randrange(8)
        elif kind == "drop":
            del data[at]
        elif kind == "duplicate":
            data.insert(at, data[at])
        elif kind == "truncate":
            cut = rng.randrange(len(data) - 1)
            # A quarter of the cuts also lose the terminator (a sender killed mid-frame).
            data = data[:cut] + (b"" if rng.random() < 0.25 else b"\x00")
        elif kind == "garbage":
            junk = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
            data[at:at] = junk
        elif kind == "delay":
            # Mostly short; one in four longer than the client waits, so its reply comes late.
            long = rng.random() < 0.25
            return data, (self.timeout * rng.uniform(1.0, 1.5) if long else rng.uniform(0.0, 0.05))
        return data, 0.0

    def pump(self):
        out = self.to_board.due()
        if out:
            self.inner.write(out)

    def write(self, data):
        self.to_board.feed(data)
        self.pump()

    def read(self, timeout):
        deadline = time.monotonic() + timeout
        while True:
            self.pump()
            out = self.to_host.due()
            if out:
                return out
            now = time.monotonic()
            if now >= deadline:
                return b""
            wait = deadline - now
            for release in (self.to_board.next_release(), self.to_host.next_release()):
                if release is not None:
                    wait = min(wait, max(0.0, release - now))
            self.to_host.feed(self.inner.read(min(wait, 0.05)))

    def close(self):
        self.inner.close()
