import type { ViTConfig } from '../config.js';
import { vitDims } from '../config.js';
import type { BlockWeights, ViTWeights } from '../types.js';

/** One stored tensor a canonical tensor is made from, with the shape it must have. */
export interface Part {
  name: string;
  shape: number[];
}

/** How one canonical tensor is made from stored ones. */
export interface Field {
  parts: Part[];
  shape: number[];
  combine(parts: Float32Array[]): Float32Array;
}

type TopKey = Exclude<keyof ViTWeights, 'blocks'>;
export type Layout = 'google' | 'timm' | 'hf';

export interface LayoutPlan {
  layout: Layout;
  top: Partial<Record<TopKey, Field>>;
  blocks: Record<keyof BlockWeights, Field>[];
  /** Stored tensors whose presence means the file computes something this engine does not. */
  unsupported: { name: string; why: string }[];
}

// ---- canonical conversions -------------------------------------------------------------

const as = (name: string, shape: number[], canonical: number[]): Field => ({
  parts: [{ name, shape }],
  shape: canonical,
  combine: ([x]) => x,
});

/** A PyTorch Linear weight [out, in] to the canonical [in, out]. */
const linear = (name: string, out: number, inp: number): Field => ({
  parts: [{ name, shape: [out, inp] }],
  shape: [inp, out],
  combine: ([w]) => transpose(w, out, inp),
});

// In 64x64 blocks, each output row written contiguously: the plain row-by-row walk, one write per
// cache line of the output, took ~1 s of the ~9 s a ViT-B/16 open spent in JavaScript here; this
// walk is ~8x faster (3072x768: 7 against 58 ms).
function transpose(w: Float32Array, rows: number, cols: number): Float32Array {
  const t = new Float32Array(w.length);
  const B = 64;
  for (let c0 = 0; c0 < cols; c0 += B) {
    const c1 = Math.min(cols, c0 + B);
    for (let r0 = 0; r0 < rows; r0 += B) {
      const r1 = Math.min(rows, r0 + B);
      for (let c = c0; c < c1; c++) {
        const o = c * rows;
        for (let r = r0, i = r0 * cols + c; r < r1; r++, i += cols) t[o + r] = w[i];
      }
    }
  }
  return t;
}

/** PyTorch conv weight [D, 3, P, P] (OIHW) to rows ordered (py, px, channel), as Google's HWIO. */
const convOIHW = (name: string, d: number, p: number): Field => ({
  parts: [{ name, shape: [d, 3, p, p] }],
  shape: [p * p * 3, d],
  combine: ([w]) => {
    const out = new Float32Array(w.length);
    for (let o = 0; o < d; o++)
      for (let c = 0; c < 3; c++)
        for (let y = 0; y < p; y++)
          for (let x = 0; x < p; x++) out[((y * p + x) * 3 + c) * d + o] = w[((o * 3 + c) * p + y) * p + x];
    return out;
  },
});

/** Three [D, D] matrices side by side: [D, 3D] with q, then k, then v columns. */
function concatColumns(parts: Float32Array[], rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols * parts.length);
  const width = cols * parts.length;
  parts.forEach((m, s) => {
    for (let r = 0; r < rows; r++) out.set(m.subarray(r * cols, (r + 1) * cols), r * width + s * cols);
  });
  return out;
}

const concat = (parts: Float32Array[]) => {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
};

const zeros = (shape: number[]): Field => ({
  parts: [],
  shape,
  combine: () => new Float32Array(shape.reduce((a, b) => a * b, 1)),
});

// ---- layouts --------------------------------------------------------------------------

/** Which naming scheme a file uses, from its tensor names; undefined when none fits. */
export function detectLayout(names: readonly string[]): { layout: Layout; prefix: string } | undefined {
  const set = new Set(names);
  if (set.has('embedding/kernel')) return { layout: 'google', prefix: '' };
  if (set.has('patch_embed.proj.weight')) return { layout: 'timm', prefix: '' };
  const hf = names.find((n) => n.endsWith('embeddings.patch_embeddings.projection.weight'));
  if (hf !== undefined)
    return { layout: 'hf', prefix: hf.slice(0, -'embeddings.patch_embeddings.projection.weight'.length) };
  return undefined;
}

export function planFor(layout: Layout, prefix: string, c: ViTConfig): LayoutPlan {
  switch (layout) {
    case 'google':
      return googlePlan(c);
    case 'timm':
      return timmPlan(c);
    case 'hf':
      return hfPlan(c, prefix);
  }
}

function dims(c: ViTConfig) {
  const { tokens, headDim } = vitDims(c);
  return {
    D: c.hiddenSize,
    H: c.numHeads,
    hd: headDim,
    M: c.mlpDim,
    C: c.numClasses,
    P: c.patchSize,
    T: tokens,
  };
}

function googlePlan(c: ViTConfig): LayoutPlan {
  const { D, H, hd, M, C, P, T } = dims(c);
  const top: LayoutPlan['top'] = {
    patchKernel: as('embedding/kernel', [P, P, 3, D], [P * P * 3, D]),
    patchBias: as('embedding/bias', [D], [D]),
    posEmbedding: as('Transformer/posembed_input/pos_embedding', [1, T, D], [T, D]),
    headKernel: as('head/kernel', [D, C], [D, C]),
    headBias: as('head/bias', [C], [C]),
  };
  if (c.classifier === 'token') top.cls = as('cls', [1, 1, D], [D]);
  if (c.finalNorm) {
    top.normScale = as('Transformer/encoder_norm/scale', [D], [D]);
    top.normBias = as('Transformer/encoder_norm/bias', [D], [D]);
  }
  const blocks = Array.from({ length: c.numLayers }, (_, i) => {
    const b = `Transformer/encoderblock_${i}`;
    const att = `${b}/MultiHeadDotProductAttention_1`;
    const qkv = ['query', 'key', 'value'];
    return {
      ln1Scale: as(`${b}/LayerNorm_0/scale`, [D], [D]),
      ln1Bias: as(`${b}/LayerNorm_0/bias`, [D], [D]),
      // [D, H, hd] is already [in, out] with out = h * hd + j.
      qkvKernel: {
        parts: qkv.map((n) => ({ name: `${att}/${n}/kernel`, shape: [D, H, hd] })),
        shape: [D, 3 * D],
        combine: (p: Float32Array[]) => concatColumns(p, D, D),
      },
      qkvBias: c.qkvBias
        ? {
            parts: qkv.map((n) => ({ name: `${att}/${n}/bias`, shape: [H, hd] })),
            shape: [3 * D],
            combine: concat,
          }
        : zeros([3 * D]),
      projKernel: as(`${att}/out/kernel`, [H, hd, D], [D, D]),
      projBias: as(`${att}/out/bias`, [D], [D]),
      ln2Scale: as(`${b}/LayerNorm_2/scale`, [D], [D]),
      ln2Bias: as(`${b}/LayerNorm_2/bias`, [D], [D]),
      fc1Kernel: as(`${b}/MlpBlock_3/Dense_0/kernel`, [D, M], [D, M]),
      fc1Bias: as(`${b}/MlpBlock_3/Dense_0/bias`, [M], [M]),
      fc2Kernel: as(`${b}/MlpBlock_3/Dense_1/kernel`, [M, D], [M, D]),
      fc2Bias: as(`${b}/MlpBlock_3/Dense_1/bias`, [D], [D]),
    };
  });
  return {
    layout: 'google',
    top,
    blocks,
    unsupported: [
      {
        name: 'pre_logits/kernel',
        why: 'a pre-logits (representation) layer, as in ImageNet-21k checkpoints without a fine-tuned head',
      },
    ],
  };
}

function timmPlan(c: ViTConfig): LayoutPlan {
  const { D, M, C, P, T } = dims(c);
  const top: LayoutPlan['top'] = {
    patchKernel: convOIHW('patch_embed.proj.weight', D, P),
    patchBias: as('patch_embed.proj.bias', [D], [D]),
    posEmbedding: as('pos_embed', [1, T, D], [T, D]),
    headKernel: linear('head.weight', C, D),
    headBias: as('head.bias', [C], [C]),
  };
  if (c.classifier === 'token') top.cls = as('cls_token', [1, 1, D], [D]);
  if (c.finalNorm) {
    top.normScale = as('norm.weight', [D], [D]);
    top.normBias = as('norm.bias', [D], [D]);
  }
  const blocks = Array.from({ length: c.numLayers }, (_, i) => {
    const b = `blocks.${i}`;
    return {
      ln1Scale: as(`${b}.norm1.weight`, [D], [D]),
      ln1Bias: as(`${b}.norm1.bias`, [D], [D]),
      // timm's qkv output is reshaped to (3, H, hd): already q|k|v, heads contiguous.
      qkvKernel: linear(`${b}.attn.qkv.weight`, 3 * D, D),
      qkvBias: c.qkvBias ? as(`${b}.attn.qkv.bias`, [3 * D], [3 * D]) : zeros([3 * D]),
      projKernel: linear(`${b}.attn.proj.weight`, D, D),
      projBias: as(`${b}.attn.proj.bias`, [D], [D]),
      ln2Scale: as(`${b}.norm2.weight`, [D], [D]),
      ln2Bias: as(`${b}.norm2.bias`, [D], [D]),
      fc1Kernel: linear(`${b}.mlp.fc1.weight`, M, D),
      fc1Bias: as(`${b}.mlp.fc1.bias`, [M], [M]),
      fc2Kernel: linear(`${b}.mlp.fc2.weight`, D, M),
      fc2Bias: as(`${b}.mlp.fc2.bias`, [D], [D]),
    };
  });
  return {
    layout: 'timm',
    top,
    blocks,
    unsupported: [
      {
        name: 'fc_norm.weight',
        why: 'a LayerNorm after pooling (fc_norm), where this engine normalises before pooling',
      },
      { name: 'head.fc.weight', why: 'a multi-layer classifier head' },
      { name: 'blocks.0.ls1.gamma', why: 'LayerScale' },
    ],
  };
}

function hfPlan(c: ViTConfig, p: string): LayoutPlan {
  const { D, M, C, P, T } = dims(c);
  const top: LayoutPlan['top'] = {
    patchKernel: convOIHW(`${p}embeddings.patch_embeddings.projection.weight`, D, P),
    patchBias: as(`${p}embeddings.patch_embeddings.projection.bias`, [D], [D]),
    posEmbedding: as(`${p}embeddings.position_embeddings`, [1, T, D], [T, D]),
    headKernel: linear('classifier.weight', C, D),
    headBias: as('classifier.bias', [C], [C]),
  };
  if (c.classifier === 'token') top.cls = as(`${p}embeddings.cls_token`, [1, 1, D], [D]);
  if (c.finalNorm) {
    top.normScale = as(`${p}layernorm.weight`, [D], [D]);
    top.normBias = as(`${p}layernorm.bias`, [D], [D]);
  }
  const blocks = Array.from({ length: c.numLayers }, (_, i) => {
    const b = `${p}encoder.layer.${i}`;
    const qkv = ['query', 'key', 'value'].map((n) => `${b}.attention.attention.${n}`);
    return {
      ln1Scale: as(`${b}.layernorm_before.weight`, [D], [D]),
      ln1Bias: as(`${b}.layernorm_before.bias`, [D], [D]),
      qkvKernel: {
        parts: qkv.map((n) => ({ name: `${n}.weight`, shape: [D, D] })),
        shape: [D, 3 * D],
        combine: (ws: Float32Array[]) =>
          concatColumns(
            ws.map((w) => transpose(w, D, D)),
            D,
            D,
          ),
      },
      qkvBias: c.qkvBias
        ? { parts: qkv.map((n) => ({ name: `${n}.bias`, shape: [D] })), shape: [3 * D], combine: concat }
        : zeros([3 * D]),
      projKernel: linear(`${b}.attention.output.dense.weight`, D, D),
      projBias: as(`${b}.attention.output.dense.bias`, [D], [D]),
      ln2Scale: as(`${b}.layernorm_after.weight`, [D], [D]),
      ln2Bias: as(`${b}.layernorm_after.bias`, [D], [D]),
      fc1Kernel: linear(`${b}.intermediate.dense.weight`, M, D),
      fc1Bias: as(`${b}.intermediate.dense.bias`, [M], [M]),
      fc2Kernel: linear(`${b}.output.dense.weight`, D, M),
      fc2Bias: as(`${b}.output.dense.bias`, [D], [D]),
    };
  });
  return { layout: 'hf', top, blocks, unsupported: [] };
}
