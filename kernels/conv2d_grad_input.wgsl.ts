// dx of conv2d as a gather: the dx pixels with (hi + ph) ≡ ry (mod sh), (wi + pw) ≡ rx (mod sw) form a
// grid on which dx is a stride-1 correlation of dy with the flipped sub-kernel w[:, :, ry + sh·t, rx + sw·u]
// (one dispatch of the tiled conv kernel per phase, each writing its own pixels; no atomics).
import { convTileKernel, type ConvTileGeometry } from './conv2d.wgsl.js';
import type { KernelInstance } from './common.js';

export interface ConvGradInputPhase { kernel: KernelInstance; geometry: ConvTileGeometry }

export interface ConvProblem {
  N: number; Cin: number; H: number; W: number; Cout: number; kh: number; kw: number;
  sh: number; sw: number; ph: number; pw: number; Ho: number; Wo: number;
}

/** One dispatch per stride phase (sh·sw of them); phases without dx pixels are left out. */
export function convGradInputPhases(p: ConvProblem, tile: (GH: number, GW: number) => readonly [number, number, number]): ConvGradInputPhase[] {
  const out: ConvGradInputPhase[] = [];
  for (let ry = 0; ry < p.sh; ry++) for (let rx = 0; rx < p.sw; rx++) {
    const Ty = Math.max(0, Math.ceil((p.kh - ry) / p.sh)), Tx = Math.max(0, Math.ceil((p.kw - rx) / p.sw));
    const qy = Math.ceil((p.ph - ry) / p.sh) + 0, qx = Math.ceil((p.pw - rx) / p.sw) + 0;
    const GH = Math.floor((p.H - 1 + p.ph - ry) / p.sh) - qy + 1, GW = Math.floor((p.W - 1 + p.pw - rx) / p.sw) - qx + 1;
    if (GH <= 0 || GW <= 0) continue;
    const t = tile(GH, GW);
    const kernel = convTileKernel({
      name: `conv2d_grad_input_k${p.kh}x${p.kw}_s${p.sh}x${p.sw}_taps${Ty}x${Tx}_t${t.join('x')}`,
      taps: [Ty, Tx], inStride: [1, 1], tile: t, tapStride: [-p.sh * p.kw, -p.sw],
      bias: false, relu: false,
    });
    out.push({
      kernel,
      geometry: {
        N: p.N, I: p.Cout, IH: p.Ho, IW: p.Wo, O: p.Cin, OH: p.H, OW: p.W, GH, GW,
        OSy: p.sh, OSx: p.sw, OOy: p.sh * qy + ry - p.ph, OOx: p.sw * qx + rx - p.pw,
        IOy: qy - (Ty - 1), IOx: qx - (Tx - 1), Ao: p.kh * p.kw, Bi: p.Cin * p.kh * p.kw,
        Wb: (ry + p.sh * (Ty - 1)) * p.kw + rx + p.sw * (Tx - 1),
      },
    });
  }
  return out;
}
