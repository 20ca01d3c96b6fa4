import { open } from 'node:fs/promises';
import type { ViTConfig } from '../engine/config.js';
import type { Tensor, ViTWeights } from '../engine/types.js';
import { inferConfigFromWeights, loadWeights } from '../engine/weights/index.js';
import { toHalfArray } from '../util/half.js';
import type { ConvertedDtype, WeightsConverter } from './convert.js';

/**
 * Canonical weights back to timm's names and PyTorch shapes, the inverse of the loader's timm plan:
 * a file the loader opens without a zip directory, per-entry npy headers or layout guessing, whose
 * tensors can be mapped straight from disk. timm's naming is the one every tool already reads.
 */
export function toTimmTensors(w: ViTWeights, c: ViTConfig): [string, Tensor][] {
  const D = c.hiddenSize;
  const P = c.patchSize;
  const out: [string, Tensor][] = [
    ['patch_embed.proj.weight', { data: patchToOIHW(w.patchKernel.data, D, P), shape: [D, 3, P, P] }],
    ['patch_embed.proj.bias', w.patchBias],
    ['pos_embed', { data: w.posEmbedding.data, shape: [1, ...w.posEmbedding.shape] }],
  ];
  if (w.cls) out.push(['cls_token', { data: w.cls.data, shape: [1, 1, D] }]);
  w.blocks.forEach((b, i) => {
    const p = `blocks.${i}`;
    out.push(
      [`${p}.norm1.weight`, b.ln1Scale],
      [`${p}.norm1.bias`, b.ln1Bias],
      [`${p}.attn.qkv.weight`, linearWeight(b.qkvKernel)],
      [`${p}.attn.qkv.bias`, b.qkvBias],
      [`${p}.attn.proj.weight`, linearWeight(b.projKernel)],
      [`${p}.attn.proj.bias`, b.projBias],
      [`${p}.norm2.weight`, b.ln2Scale],
      [`${p}.norm2.bias`, b.ln2Bias],
      [`${p}.mlp.fc1.weight`, linearWeight(b.fc1Kernel)],
      [`${p}.mlp.fc1.bias`, b.fc1Bias],
      [`${p}.mlp.fc2.weight`, linearWeight(b.fc2Kernel)],
      [`${p}.mlp.fc2.bias`, b.fc2Bias],
    );
  });
  if (w.normScale && w.normBias) out.push(['norm.weight', w.normScale], ['norm.bias', w.normBias]);
  out.push(['head.weight', linearWeight(w.headKernel)], ['head.bias', w.headBias]);
  return out;
}

/** Canonical [in, out] to PyTorch Linear [out, in]. */
function linearWeight(t: Tensor): Tensor {
  const [rows, cols] = t.shape as [number, number];
  const out = new Float32Array(t.data.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = t.data[r * cols + c]!;
  return { data: out, shape: [cols, rows] };
}

/** Rows ordered (py, px, channel) x D back to OIHW [D, 3, P, P]. */
function patchToOIHW(k: Float32Array, d: number, p: number): Float32Array {
  const out = new Float32Array(k.length);
  for (let o = 0; o < d; o++)
    for (let c = 0; c < 3; c++)
      for (let y = 0; y < p; y++)
        for (let x = 0; x < p; x++) out[((o * 3 + c) * p + y) * p + x] = k[((y * p + x) * 3 + c) * d + o]!;
  return out;
}

function encode(t: Tensor, dtype: ConvertedDtype): Uint8Array {
  if (dtype === 'f32') return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  const h = toHalfArray(t.data);
  return new Uint8Array(h.buffer);
}

/** Writes safetensors: 8-byte header length, JSON header padded with spaces to 8 bytes, then the data. */
export async function writeSafetensors(
  dest: string,
  tensors: [string, Tensor][],
  dtype: ConvertedDtype,
  metadata: Record<string, string> = {},
): Promise<void> {
  const bytesPer = dtype === 'f32' ? 4 : 2;
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const [name, t] of tensors) {
    const n = t.data.length * bytesPer;
    header[name] = {
      dtype: dtype === 'f32' ? 'F32' : 'F16',
      shape: t.shape,
      data_offsets: [offset, offset + n],
    };
    offset += n;
  }
  let json = JSON.stringify(header);
  // Padding keeps every tensor 8-byte aligned in the file, so a mapped view needs no copy.
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  const fh = await open(dest, 'w');
  try {
    await fh.write(len);
    await fh.write(Buffer.from(json, 'utf8'));
    for (const [, t] of tensors) await fh.write(encode(t, dtype));
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * A WeightsConverter for ensureConverted: any checkpoint the loader reads (Google npz, timm or Hugging Face
 * safetensors) to timm-named safetensors in float32 or float16. The model shape is read from the file.
 */
export const toTimmSafetensors: WeightsConverter = async (src, dest, { dtype }) => {
  const config = await inferConfigFromWeights(src);
  const weights = await loadWeights(src, config);
  await writeSafetensors(dest, toTimmTensors(weights, config), dtype, {
    format: 'pt',
    converted_by: 'vitstream',
  });
};
