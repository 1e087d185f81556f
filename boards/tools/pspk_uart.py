#!/usr/bin/env python3
"""Host side of the picospike board UART protocol (boards/PROTOCOL.md).

Sends samples to a board running the picospike firmware and prints one result line per sample,
in the format the QEMU boards print (`sample=... class=... outputs=... ticks=...`), then a
summary line. A second, independent implementation of the wire format (postcard + COBS) next
to the firmware's Rust one, written from PROTOCOL.md.

  pspk_uart.py --port /dev/ttyACM0 ping
  pspk_uart.py --port /dev/ttyACM0 info
  pspk_uart.py --port /dev/ttyACM0 run [--model-dir boards/models/demo] [--steps N]
  pspk_uart.py --exec "boards/host-reference/target/release/picospike-host-reference --serve" run
  pspk_uart.py selftest            # the examples of PROTOCOL.md, no board needed

--port needs pyserial (`pip install pyserial`); --exec talks to a program over its stdin and
stdout instead (the simulated board of boards/host-reference), which is how CI tests this file.
Exit status: 0 if every sample got a reply (accuracy is in the summary line), 1 otherwise,
like the QEMU boards.
"""
import argparse
import os
import re
import shlex
import subprocess
import sys

# ---------------------------------------------------------------- postcard ----

def varint(n):
    """Unsigned LEB128, as postcard writes every integer wider than a byte."""
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def zigzag(n):
    return (n << 1) ^ (n >> 63) if n < 0 else n << 1


class Reader:
    def __init__(self, data):
        self.data, self.pos = data, 0

    def byte(self):
        if self.pos >= len(self.data):
            raise ValueError("message truncated")
        b = self.data[self.pos]
        self.pos += 1
        return b

    def varint(self):
        shift = result = 0
        while True:
            b = self.byte()
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                return result
            shift += 7
            if shift > 70:
                raise ValueError("varint too long")

    def signed(self):
        n = self.varint()
        return (n >> 1) ^ -(n & 1)

    def seq(self, item):
        return [item() for _ in range(self.varint())]

    def string(self):
        n = self.varint()
        raw = self.data[self.pos:self.pos + n]
        self.pos += n
        return raw.decode("utf-8")


# -------------------------------------------------------------------- COBS ----

def cobs_encode(data):
    out = bytearray([0])
    code_pos, code = 0, 1
    for b in data:
        if b == 0:
            out[code_pos] = code
            code_pos, code = len(out), 1
            out.append(0)
        else:
            out.append(b)
            code += 1
            if code == 0xFF:
                out[code_pos] = code
                code_pos, code = len(out), 1
                out.append(0)
    out[code_pos] = code
    return bytes(out) + b"\x00"


def cobs_decode(frame):
    out = bytearray()
    i = 0
    while i < len(frame):
        code = frame[i]
        if code == 0 or i + code > len(frame):
            raise ValueError("bad COBS frame")
        out += frame[i + 1:i + code]
        i += code
        if code < 0xFF and i < len(frame):
            out.append(0)
    return bytes(out)


# ---------------------------------------------------------------- messages ----

def ping():
    return varint(0)


def info():
    return varint(1)


def infer(request_id, steps, sample):
    return varint(2) + varint(request_id) + varint(steps) + varint(len(sample)) + bytes(sample)


ERRORS = ["BadFrame", "FrameTooLong", "WrongInputSize", "ReplyTooLarge", "InferenceFailed"]


def decode_response(payload):
    r = Reader(payload)
    kind = r.varint()
    if kind == 0:
        return {"kind": "Pong", "version": r.byte()}
    if kind == 1:
        return {"kind": "Info", "input_size": r.varint(), "output_size": r.varint(),
                "default_timesteps": r.varint(), "max_request_frame": r.varint()}
    if kind == 2:
        return {"kind": "Inferred", "id": r.varint(), "class": r.varint(), "outputs": r.seq(r.signed),
                "spike_counts": r.seq(r.varint), "synaptic_events": r.varint(), "ticks": r.varint()}
    if kind == 3:
        code = r.varint()
        name = ERRORS[code] if code < len(ERRORS) else f"Unknown{code}"
        fields = {}
        if name == "FrameTooLong":
            fields = {"max": r.varint()}
        elif name == "WrongInputSize":
            fields = {"found": r.varint(), "expected": r.varint()}
        elif name == "ReplyTooLarge":
            fields = {"outputs": r.varint(), "layers": r.varint()}
        elif name == "InferenceFailed":
            fields = {"id": r.varint(), "message": r.string()}
        return {"kind": "Error", "error": name, **fields}
    raise ValueError(f"unknown response variant {kind}")


# --------------------------------------------------------------- transport ----

class Link:
    """Frames over a byte stream: `send` one message, `receive` the next one."""

    def __init__(self, write, read):
        self.write, self.read, self.pending = write, read, bytearray()

    def send(self, payload):
        self.write(cobs_encode(payload))

    def receive(self):
        while 0 not in self.pending:
            chunk = self.read()
            if not chunk:
                raise EOFError("board closed the connection (or timed out) before replying")
            self.pending += chunk
        end = self.pending.index(0)
        frame, self.pending = bytes(self.pending[:end]), self.pending[end + 1:]
        return decode_response(cobs_decode(frame))

    def request(self, payload):
        self.send(payload)
        return self.receive()


def open_link(args):
    if args.exec:
        proc = subprocess.Popen(shlex.split(args.exec), stdin=subprocess.PIPE, stdout=subprocess.PIPE)

        def write(data):
            proc.stdin.write(data)
            proc.stdin.flush()

        return Link(write, lambda: os.read(proc.stdout.fileno(), 4096)), proc
    try:
        import serial  # pyserial
    except ImportError:
        sys.exit("--port needs pyserial: pip install pyserial")
    port = serial.Serial(args.port, args.baud, timeout=args.timeout)
    port.reset_input_buffer()
    port.write(b"\x00")  # end any half-sent frame; the board skips empty frames
    return Link(port.write, lambda: port.read(max(1, port.in_waiting))), port


# ----------------------------------------------------------------- samples ----

SAMPLE = re.compile(r"\(\s*&\[([0-9,\s]*)\]\s*,\s*([0-9]+)\s*\)")


def load_samples(model_dir):
    """The `SAMPLES` of a generated model.rs: [(bytes, label)]."""
    with open(os.path.join(model_dir, "model.rs")) as f:
        text = f.read()
    start = text.index("SAMPLES")
    samples = []
    for m in SAMPLE.finditer(text, start):
        values = [int(v) for v in m.group(1).replace("\n", " ").split(",") if v.strip()]
        samples.append((bytes(values), int(m.group(2))))
    return samples


def run(link, args):
    board = link.request(info())
    if board.get("kind") != "Info":
        print(f"error stage=info response={board}")
        return 1
    samples = load_samples(args.model_dir)
    steps = args.steps or board["default_timesteps"]
    correct = errors = 0
    total = worst = 0
    for index, (sample, label) in enumerate(samples):
        reply = link.request(infer(index, args.steps, sample))
        if reply.get("error") in ("BadFrame", "FrameTooLong"):
            # A byte lost or garbled on the line: flush the board's frame buffer and try once more.
            link.write(b"\x00")
            reply = link.request(infer(index, args.steps, sample))
        if reply["kind"] != "Inferred" or reply["id"] != index:
            errors += 1
            print(f"sample={index} error=\"{reply}\"")
            continue
        correct += reply["class"] == label
        total += reply["ticks"]
        worst = max(worst, reply["ticks"])
        outputs = ",".join(map(str, reply["outputs"])) or "-"
        spikes = ",".join(map(str, reply["spike_counts"])) or "-"
        print(f"sample={index} label={label} class={reply['class']} outputs={outputs} spikes={spikes} "
              f"events={reply['synaptic_events']} ticks={reply['ticks']}")
    print(f"summary samples={len(samples)} correct={correct} errors={errors} steps={steps} "
          f"ticks_total={total} ticks_max={worst}")
    return 0 if errors == 0 else 1


def selftest():
    """The examples of PROTOCOL.md, and COBS block boundaries (agreed with the Rust side)."""
    h = bytes.fromhex
    checks = [
        (cobs_encode(ping()), h("010100")),
        (cobs_encode(info()), h("020100")),
        (cobs_encode(infer(300, 0, [0, 5, 0])), h("0402ac020203020501 00".replace(" ", ""))),
        (cobs_encode(infer(7, 0, [1, 2])), h("0302070402010200")),
    ]
    for got, want in checks:
        assert got == want, f"{got.hex()} != {want.hex()}"
    assert decode_response(cobs_decode(h("010201"))) == {"kind": "Pong", "version": 1}
    reply = decode_response(cobs_decode(h("0e0207020201808008010309e807")))
    assert reply == {"kind": "Inferred", "id": 7, "class": 2, "outputs": [-1, 65536], "spike_counts": [3],
                     "synaptic_events": 9, "ticks": 1000}, reply
    info_reply = decode_response(cobs_decode(h("0601400a1461")))
    assert info_reply["input_size"] == 64 and info_reply["max_request_frame"] == 97, info_reply
    # Runs of non-zero bytes around the 254-byte COBS block size (postcard's cobs crate agrees).
    for n, length, tail in [(253, 255, "01010100"), (254, 257, "01010100"), (255, 258, "01020100"), (300, 303, "01010100")]:
        frame = cobs_encode(bytes([1]) * n)
        assert (len(frame), frame[-4:].hex()) == (length, tail), (n, len(frame), frame[-4:].hex())
        assert cobs_decode(frame[:-1]) == bytes([1]) * n
    for n in range(0, 600, 7):
        data = bytes((i * 37) % 256 for i in range(n))
        assert cobs_decode(cobs_encode(data)[:-1]) == data, n
    for value in [0, 1, 127, 128, 300, 2**32 - 1]:
        assert Reader(varint(value)).varint() == value
    for value in [0, -1, 1, -65536, 2**31 - 1, -2**31]:
        assert Reader(varint(zigzag(value))).signed() == value
    print("pspk_uart selftest ok: protocol examples, COBS block boundaries, varints")
    return 0


def main():
    if sys.argv[1:] == ["selftest"]:
        return selftest()
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--port", help="serial device of the board (needs pyserial)")
    where.add_argument("--exec", help="program speaking the protocol on stdin/stdout")
    parser.add_argument("--baud", type=int, default=115200)
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for a reply")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("ping")
    sub.add_parser("info")
    run_parser = sub.add_parser("run", help="send every sample of a model directory")
    run_parser.add_argument("--model-dir", default=os.environ.get("PICOSPIKE_MODEL_DIR", os.path.join(here, "..", "models", "demo")))
    run_parser.add_argument("--steps", type=int, default=0, help="timesteps (0: the model's default)")
    args = parser.parse_args()

    link, handle = open_link(args)
    try:
        if args.command == "ping":
            print(link.request(ping()))
            return 0
        if args.command == "info":
            print(link.request(info()))
            return 0
        return run(link, args)
    finally:
        if args.exec:
            # A simulated board exits at the end of its input; QEMU does not, so stop it.
            handle.stdin.close()
            try:
                handle.wait(timeout=2)
            except subprocess.TimeoutExpired:
                handle.terminate()
                handle.wait(timeout=10)
        else:
            handle.close()


if __name__ == "__main__":
    sys.exit(main())
