"""Tests of tools/pspk_uart.py and tools/uart_faults.py: `python3 -m unittest` in boards/tools.

The wire examples are those of boards/PROTOCOL.md; the Rust tests in
boards/firmware/src/protocol.rs pin the same bytes, so the two implementations agree on them.
The link tests run the client against `FakeBoard`, a minimal board written here from the spec
(it answers Ping and Infer, rejects frames that do not check), in-process or as a subprocess.
"""
import os
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import pspk_uart as p  # noqa: E402
import uart_faults  # noqa: E402

h = bytes.fromhex

# (message, postcard payload, wire frame) as in PROTOCOL.md.
REQUESTS = [
    (p.ping(1), "00 01", "01 06 01 69 22 de 36 00"),
    (p.info(2), "01 02", "07 01 02 92 42 cc b6 00"),
    (p.infer(300, 0, [0, 5, 0]), "02 ac 02 00 03 00 05 00", "04 02 ac 02 02 03 02 05 05 ae 9b 06 85 00"),
    (p.infer(7, 0, [1, 2]), "02 07 00 02 01 02", "03 02 07 08 02 01 02 bb 58 bb ba 00"),
]
RESPONSES = [
    ({"kind": "Pong", "id": 1, "version": 2}, "00 01 02", "01 07 01 02 7f 89 54 08 00"),
    ({"kind": "Info", "id": 2, "input_size": 64, "output_size": 10, "default_timesteps": 20,
      "max_request_frame": 97, "model_crc": 0x1234ABCD,
      "link": {"frames": 3, "crc_errors": 1, "bad_frames": 0, "overflows": 0, "uart_errors": 0}},
     "01 02 40 0a 14 61 cd d7 d2 91 01 03 01 00 00 00",
     "0e 01 02 40 0a 14 61 cd d7 d2 91 01 03 01 01 01 05 e1 0e 17 cb 00"),
    ({"kind": "Inferred", "id": 7, "class": 2, "outputs": [-1, 65536], "spike_counts": [3],
      "synaptic_events": 9, "ticks": 1000},
     "02 07 02 02 01 80 80 08 01 03 09 e8 07", "12 02 07 02 02 01 80 80 08 01 03 09 e8 07 2a db eb 4f 00"),
    ({"kind": "Error", "id": 5, "error": "WrongInputSize", "found": 3, "expected": 64},
     "03 05 00 03 40", "03 03 05 07 03 40 ac 6f ad eb 00"),
    ({"kind": "Rejected", "reason": "BadCrc"}, "04 00", "02 04 05 fb d7 b5 25 00"),
    ({"kind": "Rejected", "reason": "TooLong", "max": 97}, "04 02 61", "08 04 02 61 82 42 cb f0 00"),
]


class FakeBoard:
    """A board from the spec: Pong, Info, Inferred (class = first byte % 10), Rejected. In-process, as
    a transport (`write`, `read`), optionally losing the replies to the first `mute` frames."""

    def __init__(self, mute=0, model_crc=0):
        self.rx, self.tx, self.mute, self.frames = bytearray(), bytearray(), mute, 0
        self.model_crc = model_crc

    def answer(self, data):
        try:
            payload = p.unframe(data)
        except p.FrameError as e:
            return bytes([4, 0 if "CRC" in str(e) else 1])
        r = p.Reader(payload)
        kind, request_id = r.varint(), r.varint()
        if kind == 0:
            return bytes([0]) + p.varint(request_id) + bytes([p.PROTOCOL_VERSION])
        if kind == 1:
            return (bytes([1]) + p.varint(request_id) + bytes([3, 10, 20, 36]) + p.varint(self.model_crc)
                    + bytes([0] * 5))
        steps = r.varint()
        sample = bytes(r.seq(r.byte))
        return (bytes([2]) + p.varint(request_id) + p.varint(sample[0] % 10) + p.varint(1) + p.varint(p.zigzag(-5))
                + p.varint(1) + p.varint(steps) + p.varint(len(sample)) + p.varint(42))

    def write(self, data):
        for byte in data:
            if byte:
                self.rx.append(byte)
                continue
            if self.rx:
                self.frames += 1
                reply = self.answer(bytes(self.rx))
                if self.frames > self.mute:
                    self.tx += p.frame(reply)
            self.rx.clear()

    def read(self, timeout):
        if not self.tx:
            time.sleep(min(timeout, 0.01))
            return b""
        out, self.tx = bytes(self.tx), bytearray()
        return out

    def close(self):
        pass


def serve_stdio(model_crc):
    """FakeBoard on stdin/stdout (`python3 test_pspk_uart.py --fake-board CRC`)."""
    board = FakeBoard(model_crc=model_crc)
    while True:
        data = os.read(0, 4096)
        if not data:
            return
        board.write(data)
        if board.tx:
            os.write(1, bytes(board.tx))
            board.tx.clear()


class WireFormat(unittest.TestCase):
    def test_request_examples(self):
        for payload, want_payload, want_frame in REQUESTS:
            self.assertEqual(payload, h(want_payload))
            self.assertEqual(p.frame(payload), h(want_frame))
            self.assertEqual(p.unframe(h(want_frame)[:-1]), payload)

    def test_response_examples(self):
        for message, payload, wire in RESPONSES:
            self.assertEqual(p.frame(h(payload)), h(wire))
            self.assertEqual(p.decode_response(p.unframe(h(wire)[:-1])), message)

    def test_every_single_byte_corruption_of_a_reply_is_caught(self):
        wire = h(RESPONSES[2][2])[:-1]
        for at in range(len(wire)):
            for bit in range(8):
                bad = bytearray(wire)
                bad[at] ^= 1 << bit
                if 0 in bad:
                    continue  # a zero splits the frame: the halves fail on their own
                with self.assertRaises(p.FrameError, msg=f"byte {at} bit {bit}"):
                    p.decode_response(p.unframe(bytes(bad)))
            with self.assertRaises(p.FrameError):
                p.decode_response(p.unframe(wire[:at] + wire[at + 1:]))

    def test_trailing_bytes_are_an_error(self):
        with self.assertRaises(p.FrameError):
            p.decode_response(p.unframe(p.frame(h("00 01 02 00"))[:-1]))

    def test_cobs_block_boundaries(self):
        # Runs of non-zero bytes around the 254-byte COBS block size (postcard's cobs agrees).
        for n, length, tail in [(253, 255, "01010100"), (254, 257, "01010100"), (255, 258, "01020100"),
                                (300, 303, "01010100")]:
            framed = p.cobs_encode(bytes([1]) * n)
            self.assertEqual((len(framed), framed[-4:].hex()), (length, tail))
            self.assertEqual(p.cobs_decode(framed[:-1]), bytes([1]) * n)
        for n in range(0, 600, 7):
            data = bytes((i * 37) % 256 for i in range(n))
            self.assertEqual(p.cobs_decode(p.cobs_encode(data)[:-1]), data)

    def test_varints(self):
        for value in [0, 1, 127, 128, 300, 2**32 - 1]:
            self.assertEqual(p.Reader(p.varint(value)).varint(), value)
        for value in [0, -1, 1, -65536, 2**31 - 1, -2**31]:
            self.assertEqual(p.Reader(p.varint(p.zigzag(value))).signed(), value)


class LinkBehaviour(unittest.TestCase):
    def test_resync_discards_the_answer_to_a_half_frame(self):
        # A killed session left half an Infer frame on the board.
        board = FakeBoard()
        board.write(p.frame(p.infer(9, 0, [3, 1, 2]))[:5])
        link = p.Link(board, timeout=0.5, retries=0, first_id=100)
        link.start()  # the fragment's Rejected is discarded, then our Pong
        reply = link.infer(0, [3, 1, 2])
        self.assertEqual((reply["kind"], reply["id"], reply["class"]), ("Inferred", 102, 3))
        self.assertEqual(link.stats.retries, 0)

    def test_a_lost_reply_is_retried_and_late_replies_are_discarded(self):
        board = FakeBoard(mute=1)  # the first frame's reply is lost
        link = p.Link(board, timeout=0.2, retries=2, first_id=0)
        reply = link.infer(0, [7, 0, 0])
        self.assertEqual((reply["id"], reply["class"]), (3, 7))  # 1: lost, 2: resync Ping, 3: retry
        self.assertEqual((link.stats.retries, link.stats.recovered), (1, 1))
        self.assertEqual(link.stats.by_cause, {"timeout": 1})

    def test_retries_are_bounded(self):
        board = FakeBoard(mute=10**6)
        link = p.Link(board, timeout=0.05, retries=2, first_id=0)
        with self.assertRaisesRegex(p.LinkError, "after 3 attempts"):
            link.ping()

    def test_stray_ids_are_skipped(self):
        board = FakeBoard()
        board.tx += p.frame(h("02 05 01 00 00 00 00"))  # an Inferred for id 5, from nowhere
        link = p.Link(board, timeout=0.5, retries=0, first_id=0)
        reply = link.infer(0, [4, 0, 0])
        self.assertEqual((reply["id"], reply["class"]), (1, 4))
        self.assertEqual(link.stats.by_cause, {"stray reply": 1})


class FaultInjection(unittest.TestCase):
    def run_faulty(self, seed, frames=300):
        proxy = uart_faults.FaultProxy(FakeBoard(), seed=seed, rate=0.5, timeout=0.05)
        link = p.Link(proxy, timeout=0.05, retries=40, first_id=0)
        link.start()
        classes = [link.infer(0, [i % 10, 1, 2])["class"] for i in range(frames // 3)]
        return proxy, link, classes

    def test_every_kind_is_injected_and_every_reply_is_right(self):
        proxy, link, classes = self.run_faulty(seed=7)
        self.assertEqual(classes, [i % 10 for i in range(100)])
        self.assertTrue(all(n > 0 for n in proxy.injected.values()), proxy.injected)
        self.assertGreater(link.stats.detected, 0)

    def test_same_seed_same_faults(self):
        a, b = uart_faults.FaultProxy(None, seed=3), uart_faults.FaultProxy(None, seed=3)
        data = bytearray(p.frame(p.infer(1, 0, range(1, 60))))
        self.assertEqual([a.damage(k, bytearray(data)) for k in uart_faults.KINDS],
                         [b.damage(k, bytearray(data)) for k in uart_faults.KINDS])


class CommandLine(unittest.TestCase):
    def client(self, *args):
        return subprocess.run([sys.executable, os.path.join(HERE, "pspk_uart.py"), *args],
                              capture_output=True, text=True, timeout=60)

    def test_a_dead_board_is_one_line_and_exit_3(self):
        result = self.client("--exec", "true", "--timeout", "0.2", "ping")
        self.assertEqual(result.returncode, p.EXIT_LINK)
        self.assertEqual(len(result.stderr.splitlines()), 1, result.stderr)
        self.assertTrue(result.stderr.startswith("pspk_uart: error: "), result.stderr)

    def test_another_model_is_exit_4(self):
        demo = os.path.join(HERE, "..", "models", "demo")
        self.assertTrue(os.path.exists(os.path.join(demo, "model.pspk")), f"missing {demo}/model.pspk")
        fake = f"{sys.executable} {os.path.join(HERE, 'test_pspk_uart.py')} --fake-board"
        result = self.client("--exec", f"{fake} 1", "info", "--model-dir", demo)
        self.assertEqual(result.returncode, p.EXIT_MISMATCH, result.stderr)
        self.assertIn("flash the board", result.stderr)
        self.assertEqual(len(result.stderr.splitlines()), 1, result.stderr)
        result = self.client("--exec", f"{fake} {p.model_crc(demo)}", "info", "--model-dir", demo)
        self.assertEqual(result.returncode, p.EXIT_OK, result.stderr)

    def test_usage_errors_are_exit_2(self):
        self.assertEqual(self.client("--exec", "true", "--timeout", "0", "ping").returncode, p.EXIT_USAGE)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--fake-board"]:
        serve_stdio(int(sys.argv[2]))
    else:
        unittest.main()
