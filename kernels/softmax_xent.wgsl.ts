// Softmax cross-entropy over rows of logits [N, C] with i32 labels, in one workgroup (one barrier):
// loss = (1/N) Σ_r (m_r + log Σ_j exp(z_rj - m_r) - z_r,label), m_r = max_j z_rj (stable for any
// magnitude). Optionally dlogits = (softmax - onehot)/N and correct = #rows whose first argmax is
// the label. A label outside [0, C) makes its row's loss and gradient NaN (NaN comes from the
// nanBits param: WGSL has no NaN literal), so the mean loss is NaN and the host can name the label.
import { family, kernel, ro, rw, wgsl, type KernelInstance } from './common.js';

export const XENT_WG = 64;
export const NAN_BITS = 0x7fc00000;

function softmaxXentKernel_(withGrad: boolean, withCorrect: boolean): KernelInstance {
  const name = `softmax_xent${withGrad ? '_grad' : ''}${withCorrect ? '_correct' : ''}`;
  return kernel(name, [ro('logits'), ro('labels', 'i32'), rw('loss'),
    ...(withGrad ? [rw('dlogits')] : []), ...(withCorrect ? [rw('correct')] : [])],
  [['N', 'u32'], ['C', 'u32'], ['invN', 'f32'], ['nanBits', 'u32']], wgsl`
var<workgroup> partLoss: array<f32, ${XENT_WG}>;
var<workgroup> partCorrect: array<f32, ${XENT_WG}>;

@compute @workgroup_size(${XENT_WG})
fn main(@builtin(local_invocation_index) l: u32) {
  let nan = bitcast<f32>(P.nanBits);
  var sl = 0.0;
  var sc = 0.0;
  for (var r = l; r < P.N; r += ${XENT_WG}u) {
    let base = r * P.C;
    var m = logits[base];
    var am = 0u;
    for (var j = 1u; j < P.C; j++) {
      let v = logits[base + j];
      if (v > m) { m = v; am = j; }
    }
    var s = 0.0;
    for (var j = 0u; j < P.C; j++) { s += exp(logits[base + j] - m); }
    let lab = labels[r];
    let ok = lab >= 0 && lab < i32(P.C);
    let ul = u32(select(0, lab, ok));
    sl += select(nan, m + log(s) - logits[base + ul], ok);
#if ${withCorrect}
    sc += select(0.0, 1.0, ok && am == ul);
#endif
#if ${withGrad}
    let g = P.invN / s;
    for (var j = 0u; j < P.C; j++) {
      let d = exp(logits[base + j] - m) * g - select(0.0, P.invN, j == ul);
      dlogits[base + j] = select(nan, d, ok);
    }
#endif
  }
  partLoss[l] = sl;
  partCorrect[l] = sc;
  workgroupBarrier();
  if (l == 0u) {
    var tl = 0.0;
    var tc = 0.0;
    for (var i = 0u; i < ${XENT_WG}u; i++) { tl += partLoss[i]; tc += partCorrect[i]; }
    loss[0] = tl * P.invN;
#if ${withCorrect}
    correct[0] = tc;
#endif
  }
}`);
}

export const softmaxXentKernel = family('softmaxXent', softmaxXentKernel_);
