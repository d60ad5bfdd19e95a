"""Forward+backward time of the hand-written layers against torch.nn's, at the zoo's real sizes, on CPU.

Each case builds our layer and torch's with the same weights and times the gradient of the output
against a fixed upstream gradient, with respect to the input and every parameter
(torch.autograd.grad: nothing accumulates in .grad). Eager: both as written. Compiled: both under
torch.compile (our Functions' forward and backward as inductor compiles them, against torch's layer
under the same compiler); compile time stays out of the medians (one untimed call first).
Sizes: the Fashion-MNIST cnn at batch 128 (configs/model/cnn.yaml: 3x3 'same' convs 1->32 on 28x28
and 32->64 on 14x14 without bias (batch_norm: true), BatchNorm2d, 2x2 pooling, dropout 0.1), a
784x500 Linear at batch 128, and the names rnn (configs/model/rnn.yaml: embedding 58x64, 2 layers
of 128, dropout 0.1) on a packed batch of 64 names with seeded lengths 3-14 (names run 2-20 letters).
Run from the repo root: OMP_NUM_THREADS=1 python bench/layers.py [--quick]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.nn.utils.rnn import pack_padded_sequence  # noqa: E402

import layers  # noqa: E402
from bench._timing import duel, markdown_table, steady_allocator, write_result  # noqa: E402

# the limits on ours/torch
LIMITS = {"Linear": 1.10, "Conv2d": 2.0, "ConvTranspose2d": 2.0, "LSTM": 1.5, "GRU": 1.5}  # ConvTranspose2d: as Conv2d
DEFAULT_LIMIT = 1.5  # BatchNorm, Dropout, pooling, Embedding


def names_batch(batch: int = 64, vocab: int = 58):
    gen = torch.Generator().manual_seed(0)
    lengths = torch.randint(3, 15, (batch,), generator=gen)
    codes = torch.randint(1, vocab, (batch, int(lengths.max())), generator=gen)
    codes[torch.arange(codes.shape[1]) >= lengths.unsqueeze(1)] = 0  # padding
    return codes, lengths


def cases():
    """(label, class name, args, kwargs, make_inputs, packed_lengths or None)."""
    img = lambda *s: (lambda: (torch.randn(*s, requires_grad=True),))  # noqa: E731
    codes, lengths = names_batch()
    emb = torch.randn(codes.shape[0], codes.shape[1], 64)
    return [
        ("Linear 784->500, batch 128", "Linear", (784, 500), {}, img(128, 784), None),
        ("Conv2d 1->32 3x3 same, 128x28x28", "Conv2d", (1, 32, 3), dict(padding="same", bias=False),
         img(128, 1, 28, 28), None),
        ("Conv2d 32->64 3x3 same, 128x14x14", "Conv2d", (32, 64, 3), dict(padding="same", bias=False),
         img(128, 32, 14, 14), None),
        # the conv autoencoder's decoder (model.channels [32, 64] on 28x28 images)
        ("ConvTranspose2d 64->32 4x4/2, 128x7x7", "ConvTranspose2d", (64, 32, 4), dict(stride=2, padding=1),
         img(128, 64, 7, 7), None),
        ("ConvTranspose2d 32->1 4x4/2, 128x14x14", "ConvTranspose2d", (32, 1, 4), dict(stride=2, padding=1),
         img(128, 32, 14, 14), None),
        ("BatchNorm2d(32), 128x28x28", "BatchNorm2d", (32,), {}, img(128, 32, 28, 28), None),
        ("BatchNorm2d(64), 128x14x14", "BatchNorm2d", (64,), {}, img(128, 64, 14, 14), None),
        ("MaxPool2d(2), 128x32x28x28", "MaxPool2d", (2,), {}, img(128, 32, 28, 28), None),
        ("AvgPool2d(2), 128x32x28x28", "AvgPool2d", (2,), {}, img(128, 32, 28, 28), None),
        ("Dropout(0.1), 128x32x14x14", "Dropout", (0.1,), {}, img(128, 32, 14, 14), None),
        ("Embedding 58x64, names batch 64", "Embedding", (58, 64), dict(padding_idx=0), lambda: (codes,), None),
        ("LSTM 64->128 x2, packed names batch 64", "LSTM", (64, 128), dict(num_layers=2, batch_first=True, dropout=0.1),
         lambda: (emb.clone().requires_grad_(),), lengths),
        ("GRU 64->128 x2, packed names batch 64", "GRU", (64, 128), dict(num_layers=2, batch_first=True, dropout=0.1),
         lambda: (emb.clone().requires_grad_(),), lengths),
    ]


def step(module: nn.Module, inputs, lengths):
    """One forward+backward: gradients of sum(out * up) for the input (if float) and parameters."""
    leaves = [t for t in inputs if t.requires_grad] + [p for p in module.parameters()]
    ups: dict = {}

    def run():
        args = inputs
        if lengths is not None:
            args = (pack_padded_sequence(inputs[0], lengths, batch_first=True, enforce_sorted=False),)
        out = module(*args)
        if lengths is not None:
            out = out[0].data
        if "up" not in ups:
            ups["up"] = torch.randn(out.shape, generator=torch.Generator().manual_seed(1))
        return torch.autograd.grad(out, leaves, ups["up"])

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few repeats; results printed, not written")
    parser.add_argument("--only", default="", help="run the cases whose label contains this text")
    opts = parser.parse_args()
    repeats = 5 if opts.quick else 21
    torch.set_num_threads(1)
    steady = steady_allocator()
    rows = []
    compile_s = {}
    for label, name, args, kwargs, make_inputs, lengths in cases():
        if opts.only not in label:
            continue
        torch.manual_seed(0)
        theirs = getattr(nn, name)(*args, **kwargs)
        ours = getattr(layers, name)(*args, **kwargs)
        ours.load_state_dict(theirs.state_dict())
        inputs = make_inputs()
        eager = duel(label, step(ours, inputs, lengths), step(theirs, inputs, lengths), repeats=repeats)
        ours_c, theirs_c = step(torch.compile(ours), inputs, lengths), step(torch.compile(theirs), inputs, lengths)
        start = time.perf_counter()
        ours_c()
        compile_s[label] = time.perf_counter() - start
        theirs_c()
        comp = duel(label, ours_c, theirs_c, repeats=repeats)
        limit = LIMITS.get(name, DEFAULT_LIMIT)
        rows.append([label, eager.ours_s * 1e3, eager.theirs_s * 1e3, round(eager.ratio, 3),
                     comp.ours_s * 1e3, comp.theirs_s * 1e3, round(comp.ratio, 3), f"<= {limit}",
                     "yes" if eager.ratio <= limit else "NO", "yes" if comp.ratio <= limit else "NO"])
        print(" | ".join(str(v) if not isinstance(v, float) else f"{v:.4g}" for v in rows[-1]), flush=True)
    table = markdown_table(["case", "refzoo eager (ms)", "torch eager (ms)", "eager ratio", "refzoo compiled (ms)",
                            "torch compiled (ms)", "compiled ratio", "limit", "eager ok", "compiled ok"], rows)
    note = (f"1 thread, torch {torch.__version__}, CPU kernels {torch.backends.cpu.get_cpu_capability()}; medians "
            f"of {repeats} alternating repeats of process CPU time (bench/_timing.duel) of one forward+backward "
            "(gradients of the input and every parameter). Compiled: both modules under torch.compile, "
            "compared with each other. "
            + ("glibc malloc set to reuse freed memory (bench/_timing.steady_allocator)." if steady
               else "default allocator."))
    firsts = ", ".join(f"{k.split(',')[0]} {v:.1f}" for k, v in compile_s.items())
    body = note + "\n\n" + table + f"\n\nFirst compiled call of ours (compiling; wall seconds): {firsts}."
    if opts.quick or opts.only:
        print(body)
    else:
        write_result("layers", "Layers vs torch.nn (forward+backward, CPU, zoo sizes)", body)


if __name__ == "__main__":
    main()
