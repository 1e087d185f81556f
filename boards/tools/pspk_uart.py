#!/usr/bin/env python3
"""Host side of the picospike board UART protocol, version 2 (boards/PROTOCOL.md).

Sends samples to a board running the picospike firmware and prints one result line per sample,
in the format the QEMU boards print (`sample=... class=... outputs=... ticks=...`), then a
summary line. A second, independent implementation of the wire format (postcard + CRC-32 +
COBS) next to the firmware's Rust one, written from PROTOCOL.md.

  pspk_uart.py --port /dev/ttyACM0 ping
  pspk_uart.py --port /dev/ttyACM0 info [--model-dir boards/models/demo]
  pspk_uart.py --port /dev/ttyACM0 run [--model-dir boards/models/demo] [--steps N]
  pspk_uart.py --tcp 127.0.0.1:4321 run          # a board behind a TCP socket (QEMU -serial tcp:)
  pspk_uart.py --exec "boards/host-reference/target/release/picospike-host-reference --serve" run
  pspk_uart.py --exec "QEMU ..." faults --reference "REF --serve" --faults 1000 --samples 100
  pspk_uart.py selftest            # the examples of PROTOCOL.md, no board needed

--port needs pyserial (`pip install pyserial`); --exec talks to a program over its stdin and
stdout instead (the simulated board of boards/host-reference, or QEMU), which is how CI tests
this file.

Every session starts by resynchronising: a lone 0x00 ends whatever half frame the board holds
(a killed session, a glitch), then a Ping with a fresh id is sent and every frame is discarded
until the Pong with that id. Each request is retried (after a resync) when its reply does not
come within --timeout, fails its CRC, or is a Rejected frame, at most --retries times. Replies
are matched by id; late replies to earlier attempts are discarded.

Exit status:
  0  every request answered (for `run`: every sample got a reply; accuracy is in the summary;
     for `faults`: wrong=0 and every sample got its reference reply)
  1  the board answered a request with an error, or (faults) a wrong or missing reply
  2  usage error
  3  link failure: cannot open the link, the board closed it, or no valid reply after the retries
  4  model mismatch: the board's model (Info: container CRC, input size) is not --model-dir's
Errors are one line on stderr, `pspk_uart: error: ...`.
"""
import argparse
import os
import random
import re
import select
import shlex
import socket
import subprocess
import sys
import time
import zlib

PROTOCOL_VERSION = 2
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_LINK, EXIT_MISMATCH = 0, 1, 2, 3, 4


class LinkError(Exception):
    """The link is unusable: closed, or no valid reply after the retries (exit status 3)."""


class FrameError(ValueError):
    """A received frame does not check (bad COBS, bad CRC, not one message)."""


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
            raise FrameError("message truncated")
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
                raise FrameError("varint too long")

    def signed(self):
        n = self.varint()
        return (n >> 1) ^ -(n & 1)

    def seq(self, item):
        return [item() for _ in range(self.varint())]

    def string(self):
        n = self.varint()
        raw = self.data[self.pos:self.pos + n]
        if len(raw) != n:
            raise FrameError("message truncated")
        self.pos += n
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise FrameError(f"bad string: {e}") from None

    def end(self):
        if self.pos != len(self.data):
            raise FrameError(f"{len(self.data) - self.pos} trailing bytes")


# -------------------------------------------------------------------- COBS ----

def cobs_encode(data):
    """COBS-encode `data` and append the terminating zero."""
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
    """Decode one COBS frame (terminator excluded)."""
    out = bytearray()
    i = 0
    while i < len(frame):
        code = frame[i]
        if code == 0 or i + code > len(frame):
            raise FrameError("bad COBS frame")
        out += frame[i + 1:i + code]
        i += code
        if code < 0xFF and i < len(frame):
            out.append(0)
    return bytes(out)


# ------------------------------------------------------------------ frames ----

def crc32(data):
    """CRC-32/ISO-HDLC (zlib's), as the frames and the model container carry it."""
    return zlib.crc32(data) & 0xFFFFFFFF


def frame(payload):
    """One wire frame: COBS(payload ++ CRC-32 little-endian) ++ 00."""
    return cobs_encode(payload + crc32(payload).to_bytes(4, "little"))


def unframe(data):
    """The payload of one received frame (terminator excluded), checked."""
    raw = cobs_decode(data)
    if len(raw) < 4:
        raise FrameError("frame shorter than its CRC")
    payload, stored = raw[:-4], int.from_bytes(raw[-4:], "little")
    if crc32(payload) != stored:
        raise FrameError("bad CRC")
    return payload


# ---------------------------------------------------------------- messages ----

def ping(request_id):
    return varint(0) + varint(request_id)


def info(request_id):
    return varint(1) + varint(request_id)


def infer(request_id, steps, sample):
    return varint(2) + varint(request_id) + varint(steps) + varint(len(sample)) + bytes(sample)


ERRORS = ["WrongInputSize", "ReplyTooLarge", "InferenceFailed"]
REJECTIONS = ["BadCrc", "BadFrame", "TooLong"]


def decode_response(payload):
    """A response payload (CRC removed) as a dict; FrameError if it is not exactly one."""
    r = Reader(payload)
    kind = r.varint()
    if kind == 0:
        out = {"kind": "Pong", "id": r.varint(), "version": r.byte()}
    elif kind == 1:
        out = {"kind": "Info", "id": r.varint(), "input_size": r.varint(), "output_size": r.varint(),
               "default_timesteps": r.varint(), "max_request_frame": r.varint(), "model_crc": r.varint(),
               "link": {name: r.varint() for name in
                        ("frames", "crc_errors", "bad_frames", "overflows", "uart_errors")}}
    elif kind == 2:
        out = {"kind": "Inferred", "id": r.varint(), "class": r.varint(), "outputs": r.seq(r.signed),
               "spike_counts": r.seq(r.varint), "synaptic_events": r.varint(), "ticks": r.varint()}
    elif kind == 3:
        out = {"kind": "Error", "id": r.varint()}
        code = r.varint()
        if code >= len(ERRORS):
            raise FrameError(f"unknown error variant {code}")
        out["error"] = ERRORS[code]
        if code == 0:
            out.update(found=r.varint(), expected=r.varint())
        elif code == 1:
            out.update(outputs=r.varint(), layers=r.varint())
        else:
            out.update(message=r.string())
    elif kind == 4:
        code = r.varint()
        if code >= len(REJECTIONS):
            raise FrameError(f"unknown rejection variant {code}")
        out = {"kind": "Rejected", "reason": REJECTIONS[code]}
        if code == 2:
            out["max"] = r.varint()
    else:
        raise FrameError(f"unknown response variant {kind}")
    r.end()
    return out


# --------------------------------------------------------------- transports ----

class ExecTransport:
    """A program speaking the protocol on its stdin and stdout."""

    def __init__(self, command):
        self.proc = subprocess.Popen(shlex.split(command), stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def write(self, data):
        try:
            self.proc.stdin.write(data)
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError) as e:
            raise LinkError(f"the board program closed its input ({e.strerror or e})") from None

    def read(self, timeout):
        """Bytes available within `timeout` seconds (b"" if none); LinkError at end of stream."""
        fd = self.proc.stdout.fileno()
        ready, _, _ = select.select([fd], [], [], max(0.0, timeout))
        if not ready:
            return b""
        data = os.read(fd, 4096)
        if not data:
            raise LinkError("the board program closed its output")
        return data

    def close(self):
        # A simulated board exits at the end of its input; QEMU does not, so stop it.
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self.proc.terminate()
            self.proc.wait(timeout=10)


class TcpTransport:
    """A board behind a TCP socket (QEMU `-serial tcp:HOST:PORT,server=on,wait=off`)."""

    def __init__(self, address):
        host, _, port = address.rpartition(":")
        try:
            self.sock = socket.create_connection((host or "127.0.0.1", int(port)), timeout=10)
        except (OSError, ValueError) as e:
            raise LinkError(f"cannot connect to {address}: {e}") from None

    def write(self, data):
        try:
            self.sock.sendall(data)
        except OSError as e:
            raise LinkError(f"socket write failed: {e}") from None

    def read(self, timeout):
        ready, _, _ = select.select([self.sock], [], [], max(0.0, timeout))
        if not ready:
            return b""
        data = self.sock.recv(4096)
        if not data:
            raise LinkError("the board closed the connection")
        return data

    def close(self):
        self.sock.close()


class SerialTransport:
    """A board on a serial port (pyserial)."""

    def __init__(self, port, baud):
        try:
            import serial  # pyserial
        except ImportError:
            raise LinkError("--port needs pyserial: pip install pyserial") from None
        try:
            self.port = serial.Serial(port, baud, timeout=0)
        except (OSError, ValueError, serial.SerialException) as e:
            raise LinkError(f"cannot open {port}: {e}") from None
        self.port.reset_input_buffer()

    def write(self, data):
        self.port.write(data)

    def read(self, timeout):
        deadline = time.monotonic() + timeout
        while True:
            waiting = self.port.in_waiting
            if waiting:
                return self.port.read(waiting)
            if time.monotonic() >= deadline:
                return b""
            time.sleep(0.001)

    def close(self):
        self.port.close()


# --------------------------------------------------------------------- link ----

class Stats:
    """What the client noticed: anomalies detected and requests that needed a retry."""

    def __init__(self):
        self.detected = 0       # corrupt frames, Rejected replies, timeouts, stray ids
        self.recovered = 0      # requests answered after at least one failed attempt
        self.retries = 0        # attempts beyond the first
        self.by_cause = {}

    def note(self, cause):
        self.detected += 1
        self.by_cause[cause] = self.by_cause.get(cause, 0) + 1


class Link:
    """Requests and replies over a transport, matched by id, with resync and bounded retries."""

    def __init__(self, transport, timeout=2.0, retries=3, first_id=None):
        self.transport, self.timeout, self.retries = transport, timeout, retries
        self.pending = bytearray()
        self.stats = Stats()
        # Ids start at a random point so that a late reply from an earlier session never
        # matches a request of this one.
        self.next = first_id if first_id is not None else random.SystemRandom().randrange(1 << 31)

    def fresh_id(self):
        self.next = (self.next + 1) & 0xFFFFFFFF
        return self.next

    def receive(self, deadline):
        """The next frame before `deadline`: a response dict, or None for a frame that does not
        check. Raises TimeoutError when the deadline passes first."""
        while 0 not in self.pending:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            self.pending += self.transport.read(remaining)
        end = self.pending.index(0)
        data, self.pending = bytes(self.pending[:end]), self.pending[end + 1:]
        if not data:
            return self.receive(deadline)  # an empty frame: a lone terminator
        try:
            return decode_response(unframe(data))
        except FrameError:
            return None

    def resync(self):
        """End any half frame on the board, then discard everything until our Pong.
        Returns the Pong, or None if it did not come within the timeout."""
        self.transport.write(b"\x00")
        request_id = self.fresh_id()
        self.transport.write(frame(ping(request_id)))
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                reply = self.receive(deadline)
            except TimeoutError:
                self.stats.note("resync timeout")
                return None
            if reply is not None and reply["kind"] == "Pong" and reply["id"] == request_id:
                self.pending.clear()
                return reply
            # Anything else is the board's answer to a fragment or a late reply: discarded.

    def start(self):
        """Resynchronise at the start of a session (bounded retries)."""
        for _ in range(self.retries + 1):
            pong = self.resync()
            if pong is not None:
                if pong["version"] != PROTOCOL_VERSION:
                    raise LinkError(f"board speaks protocol version {pong['version']}, "
                                    f"this client {PROTOCOL_VERSION}")
                return pong
        raise LinkError(f"no Pong after {self.retries + 1} resync attempts (timeout {self.timeout} s)")

    def call(self, make, what):
        """Send the request `make(id)` and return the reply with that id (retrying)."""
        last = "timeout"
        for attempt in range(self.retries + 1):
            if attempt:
                self.stats.retries += 1
                self.resync()
            request_id = self.fresh_id()
            self.transport.write(frame(make(request_id)))
            deadline = time.monotonic() + self.timeout
            while True:
                try:
                    reply = self.receive(deadline)
                except TimeoutError:
                    self.stats.note("timeout")
                    last = "timeout"
                    break
                if reply is None:
                    self.stats.note("corrupt reply")
                    last = "corrupt reply"
                    break
                if reply["kind"] == "Rejected":
                    self.stats.note("rejected request")
                    last = f"request rejected ({reply['reason']})"
                    break
                if reply.get("id") != request_id:
                    self.stats.note("stray reply")
                    continue  # a late reply to an earlier attempt
                if attempt:
                    self.stats.recovered += 1
                return reply
        raise LinkError(f"no valid reply to {what} after {self.retries + 1} attempts (last: {last})")

    def ping(self):
        return self.call(ping, "Ping")

    def info(self):
        return self.call(info, "Info")

    def infer(self, steps, sample):
        return self.call(lambda request_id: infer(request_id, steps, sample), "Infer")


def open_transport(args):
    if args.exec:
        return ExecTransport(args.exec)
    if args.tcp:
        return TcpTransport(args.tcp)
    return SerialTransport(args.port, args.baud)


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


def model_crc(model_dir):
    """The identity of the model in `model_dir`: its container's stored CRC-32 (last 4 bytes)."""
    with open(os.path.join(model_dir, "model.pspk"), "rb") as f:
        blob = f.read()
    if len(blob) < 4:
        raise ValueError(f"{model_dir}/model.pspk is too short to be a model")
    return int.from_bytes(blob[-4:], "little")


def check_model(board, model_dir):
    """None if the board runs `model_dir`'s model, else a one-line reason."""
    expected = model_crc(model_dir)
    if board["model_crc"] != expected:
        return (f"the board runs model crc={board['model_crc']:08x}, {model_dir} has crc={expected:08x} "
                "(flash the board with this model, or pass its --model-dir)")
    return None


def result_fields(reply):
    """What must equal the host reference (ticks are the board's own)."""
    return (reply["class"], tuple(reply["outputs"]), tuple(reply["spike_counts"]), reply["synaptic_events"])


def run(link, args):
    board = link.info()
    if board["kind"] != "Info":
        print(f"pspk_uart: error: Info answered with {board}", file=sys.stderr)
        return EXIT_FAILED
    mismatch = check_model(board, args.model_dir)
    if mismatch:
        print(f"pspk_uart: error: {mismatch}", file=sys.stderr)
        return EXIT_MISMATCH
    samples = load_samples(args.model_dir)
    steps = args.steps or board["default_timesteps"]
    correct = errors = 0
    total = worst = 0
    for index, (sample, label) in enumerate(samples):
        reply = link.infer(args.steps, sample)
        if reply["kind"] != "Inferred":
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
    return EXIT_OK if errors == 0 else EXIT_FAILED


def fault_samples(model_dir, count, seed):
    """`count` inputs: the model's samples, cycled, each byte moved by a seeded -2..2 within the
    samples' value range (so that most samples differ from every other)."""
    base = [s for s, _ in load_samples(model_dir)]
    if not base:
        raise ValueError(f"{model_dir}/model.rs has no SAMPLES")
    top = max(max(s) for s in base)
    rng = random.Random(seed ^ 0x5A17)
    return [bytes(min(top, max(0, v + rng.randint(-2, 2))) for v in base[i % len(base)])
            for i in range(count)]


def faults(link, args):
    """Samples through a fault-injecting proxy until every kind reached --faults; compare each
    reply with the host reference's."""
    from uart_faults import KINDS  # noqa: E402 (beside this file)

    samples = fault_samples(args.model_dir, args.samples, args.seed)
    reference = Link(ExecTransport(args.reference), timeout=30, retries=0)
    try:
        reference.start()
        expected = []
        for sample in samples:
            reply = reference.infer(0, sample)
            if reply["kind"] != "Inferred":
                print(f"pspk_uart: error: the reference answered {reply}", file=sys.stderr)
                return EXIT_FAILED
            expected.append(result_fields(reply))
    finally:
        reference.transport.close()

    proxy = link.transport
    started = time.monotonic()
    link.start()
    answered = [False] * len(samples)
    wrong = unanswered = requests = passes = 0
    while True:
        passes += 1
        for index, sample in enumerate(samples):
            requests += 1
            try:
                reply = link.infer(0, sample)
            except LinkError as e:
                unanswered += 1
                print(f"sample={index} error=\"{e}\"", file=sys.stderr)
                continue
            if reply["kind"] != "Inferred" or result_fields(reply) != expected[index]:
                wrong += 1
                print(f"sample={index} wrong reply {reply}", file=sys.stderr)
                continue
            answered[index] = True
        if min(proxy.injected[k] for k in KINDS) >= args.faults:
            break
    proxy.enabled = False
    # The board's own view: a clean Info after the run.
    board = link.info()
    elapsed = time.monotonic() - started
    missing = answered.count(False)
    kinds = " ".join(f"{k}={proxy.injected[k]}" for k in KINDS)
    print(f"faults by kind: {kinds}")
    causes = " ".join(f"{k.replace(' ', '_')}={v}" for k, v in sorted(link.stats.by_cause.items()))
    print(f"detected by the client: {causes}")
    if board["kind"] == "Info":
        print("detected by the board: " + " ".join(f"{k}={v}" for k, v in board["link"].items()))
    print(f"samples={len(samples)} passes={passes} requests={requests} retries={link.stats.retries} "
          f"unanswered={unanswered} samples_never_answered={missing} seed={args.seed} seconds={elapsed:.1f}")
    print(f"faults injected={proxy.total()} detected={link.stats.detected} "
          f"recovered={link.stats.recovered} wrong={wrong}")
    return EXIT_OK if wrong == 0 and missing == 0 and unanswered == 0 else EXIT_FAILED


# ---------------------------------------------------------------- selftest ----

def selftest():
    """The examples of PROTOCOL.md (also pinned by test_pspk_uart.py and the Rust tests)."""
    import unittest
    here = os.path.dirname(os.path.abspath(__file__))
    suite = unittest.defaultTestLoader.discover(here, pattern="test_pspk_uart.py")
    result = unittest.TextTestRunner(verbosity=0).run(suite)
    return EXIT_OK if result.wasSuccessful() else EXIT_FAILED


def main():
    if sys.argv[1:] == ["selftest"]:
        return selftest()
    here = os.path.dirname(os.path.abspath(__file__))
    default_model = os.environ.get("PICOSPIKE_MODEL_DIR", os.path.join(here, "..", "models", "demo"))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--port", help="serial device of the board (needs pyserial)")
    where.add_argument("--tcp", metavar="HOST:PORT", help="board behind a TCP socket")
    where.add_argument("--exec", help="program speaking the protocol on stdin/stdout")
    parser.add_argument("--baud", type=int, default=115200)
    parser.add_argument("--timeout", type=float, default=2.0, help="seconds to wait for each reply (default 2)")
    parser.add_argument("--retries", type=int, default=3, help="attempts after the first, per request (default 3)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("ping")
    info_parser = sub.add_parser("info", help="describe the board's model and link; check it is --model-dir's")
    info_parser.add_argument("--model-dir", default=default_model)
    run_parser = sub.add_parser("run", help="send every sample of a model directory")
    run_parser.add_argument("--model-dir", default=default_model)
    run_parser.add_argument("--steps", type=int, default=0, help="timesteps (0: the model's default)")
    faults_parser = sub.add_parser("faults", help="fault injection between this client and the board")
    faults_parser.add_argument("--model-dir", default=default_model)
    faults_parser.add_argument("--reference", required=True, help="fault-free reference board program")
    faults_parser.add_argument("--faults", type=int, default=1000, help="faults of each kind (default 1000)")
    faults_parser.add_argument("--samples", type=int, default=100, help="distinct samples (default 100)")
    faults_parser.add_argument("--seed", type=int, default=1)
    faults_parser.add_argument("--rate", type=float, default=0.3, help="chance that a frame gets a fault")
    args = parser.parse_args()
    if args.timeout <= 0 or args.retries < 0:
        parser.error("--timeout must be > 0 and --retries >= 0")

    transport = None
    try:
        transport = open_transport(args)
        if args.command == "faults":
            sys.path.insert(0, here)
            from uart_faults import FaultProxy
            transport = FaultProxy(transport, seed=args.seed, rate=args.rate, timeout=args.timeout)
            return faults(Link(transport, args.timeout, args.retries), args)
        link = Link(transport, args.timeout, args.retries)
        pong = link.start()
        if args.command == "ping":
            print(pong)
            return EXIT_OK
        if args.command == "info":
            board = link.info()
            print(board)
            mismatch = check_model(board, args.model_dir)
            if mismatch:
                print(f"pspk_uart: error: {mismatch}", file=sys.stderr)
                return EXIT_MISMATCH
            return EXIT_OK
        return run(link, args)
    except LinkError as e:
        print(f"pspk_uart: error: {e}", file=sys.stderr)
        return EXIT_LINK
    except (OSError, ValueError) as e:
        print(f"pspk_uart: error: {e}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("pspk_uart: error: interrupted", file=sys.stderr)
        return EXIT_FAILED
    finally:
        if transport is not None:
            transport.close()


if __name__ == "__main__":
    sys.exit(main())
