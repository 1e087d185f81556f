"""The Nengo half of nengo_vs_picospike.sh: the digits demo network in Nengo's reference simulator.

    python nengo_digits.py OUT_DIR [--repeats R]

Reads what `cargo run --release -p picospike-host --example bench_digits -- OUT_DIR` wrote
(spiking_network.json, images.u8, picospike.json), builds the same network in Nengo, runs every
image sequentially (one simulator built once, `sim.reset()` per image), and prints Nengo's and
picospike's milliseconds per image side by side, their ratio, and how often the classes agree.

Alignment with picospike (ANCHORS.md): LIF voltages start at 0 (Nengo's default is uniform in
[0, 1)), and Nengo's synapse adds a one-step delay, so Nengo runs steps + 1 steps and its readout
at the last one is compared with picospike's at `steps`. The network is the float one that
picospike quantizes: layer l's current is x @ W + b with Nengo's gain and bias already folded
into W and b (so every Ensemble has gain 1 and that bias), x the image / full_scale for the first
layer (no synapse) and the previous layer's spikes (amplitude / dt each, Nengo's LIF output)
through a lowpass synapse otherwise; the readout is the filtered current plus its bias.
"""
import argparse
import json
import os
import statistics
import sys
import time

import numpy as np
import nengo


def lif(neuron):
    """nengo.LIF from picospike's `Lif` neuron (serde JSON)."""
    # Voltages start at rest, as picospike's do (Nengo's default is uniform in [0, 1)).
    return nengo.LIF(tau_rc=neuron["tau_rc"], tau_ref=neuron["tau_ref"],
                     min_voltage=neuron["min_voltage"], amplitude=neuron["amplitude"],
                     initial_state={"voltage": nengo.dists.Choice([0.0])})


def synapse(value):
    """None or nengo.Lowpass from picospike's `Synapse` (serde JSON)."""
    if isinstance(value, dict) and "Lowpass" in value:
        return nengo.Lowpass(value["Lowpass"]["tau"])
    return None


def build(network, state):
    """The Nengo network; `state["image"]` is the input the stimulus node presents."""
    full_scale = float(network["input"]["full_scale"])
    with nengo.Network(seed=0) as net:
        stimulus = nengo.Node(lambda t: state["image"], size_out=network["layers"][0]["inputs"])
        source, readout_bias, probe = stimulus, None, None
        for index, layer in enumerate(network["layers"]):
            weights = np.asarray(layer["weights"], dtype=np.float64).reshape(layer["inputs"], layer["outputs"])
            neuron = layer["neuron"]
            if isinstance(neuron, dict) and "Lif" in neuron:
                ensemble = nengo.Ensemble(
                    layer["outputs"], dimensions=1, neuron_type=lif(neuron["Lif"]),
                    gain=np.ones(layer["outputs"]), bias=np.asarray(layer["biases"], dtype=np.float64))
                target = ensemble.neurons
            elif neuron == "Readout":
                target = nengo.Node(size_in=layer["outputs"])
                readout_bias = np.asarray(layer["biases"], dtype=np.float64)
                probe = nengo.Probe(target, synapse=None)
            else:
                sys.exit(f"layer {index}: neuron {neuron} not handled by this benchmark")
            # The first layer reads image / full_scale: fold 1 / full_scale into its transform.
            scale = 1.0 / full_scale if index == 0 else 1.0
            nengo.Connection(source, target, transform=weights.T * scale, synapse=synapse(layer["synapse"]))
            source = target
    return net, probe, readout_bias


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    with open(os.path.join(args.out, "spiking_network.json")) as f:
        network = json.load(f)
    with open(os.path.join(args.out, "picospike.json")) as f:
        pico = json.load(f)
    size = network["layers"][0]["inputs"]
    images = np.fromfile(os.path.join(args.out, "images.u8"), dtype=np.uint8).reshape(-1, size)
    steps = pico["steps"]
    state = {"image": np.zeros(size)}
    net, probe, readout_bias = build(network, state)
    with nengo.Simulator(net, dt=network["dt"], progress_bar=False, optimize=True) as sim:
        passes, classes, outputs = [], [], []
        for _ in range(args.repeats):
            classes, outputs = [], []
            start = time.perf_counter()
            for image in images:
                state["image"] = image.astype(np.float64)
                sim.reset()
                sim.run_steps(steps + 1)
                readout = sim.data[probe][-1] + readout_bias
                outputs.append(readout)
                classes.append(int(np.argmax(readout)))
            passes.append((time.perf_counter() - start) * 1000.0 / len(images))
    nengo_ms = statistics.median(passes)
    fixed_ms = pico["fixed_ms_per_image"]
    n = len(images)
    agree_fixed = sum(a == b for a, b in zip(classes, pico["fixed_classes"]))
    agree_float = sum(a == b for a, b in zip(classes, pico["float_classes"]))
    labels = pico["labels"]
    accuracy = {name: sum(a == b for a, b in zip(c, labels)) / n
                for name, c in (("nengo", classes), ("fixed", pico["fixed_classes"]), ("float", pico["float_classes"]))}
    print(f"digits demo network, {n} images x {steps} steps, one thread, reset per image")
    print(f"{'engine':<52}{'ms / image':>12}")
    print(f"{'Nengo ' + nengo.__version__ + ' reference simulator, sequential (median of ' + str(len(passes)) + ')':<52}"
          f"{nengo_ms:>12.3f}")
    print(f"{'picospike float reference (median of ' + str(len(pico['float_ms_passes'])) + ')':<52}"
          f"{pico['float_ms_per_image']:>12.3f}")
    print(f"{'picospike fixed-point runtime (median of ' + str(len(pico['fixed_ms_passes'])) + ')':<52}"
          f"{fixed_ms:>12.4f}")
    best = min(passes) / min(pico["fixed_ms_passes"])
    print(f"ratio Nengo / picospike fixed point: {nengo_ms / fixed_ms:.0f}x (medians), {best:.0f}x (fastest passes: "
          f"on a loaded machine noise only adds time, so the fastest pass of each is the steadier estimate)")
    print(f"classes: fixed point agrees with Nengo on {agree_fixed} of {n} ({agree_fixed / n:.1%}), "
          f"float reference on {agree_float} of {n} ({agree_float / n:.1%})")
    difference = np.max(np.abs(np.asarray(outputs) - np.asarray(pico["float_outputs"])))
    print(f"readout: largest |Nengo - picospike float reference| over all images and outputs: {difference:.2e}")
    print(f"accuracy on these images: Nengo {accuracy['nengo']:.1%}, picospike float {accuracy['float']:.1%}, "
          f"fixed point {accuracy['fixed']:.1%}")
    print(f"Nengo passes (ms/image): {', '.join(f'{p:.3f}' for p in passes)}")
    print(f"picospike fixed passes (ms/image): {', '.join(f'{p:.4f}' for p in pico['fixed_ms_passes'])}")


if __name__ == "__main__":
    main()
