import { EngineError } from '../../errors.js';
import { paramsLayout } from './params.js';
import { computePipeline, kernelSource } from './source.js';

/** Params of both INT8 GEMMs. */
export const INT8_GEMM_PARAMS = paramsLayout([
  { name: 'M', type: 'u32' },
  { name: 'N', type: 'u32' },
  { name: 'K', type: 'u32' },
  { name: 'aScale', type: 'f32', doc: 'activation scale of A' },
  { name: 'outInvScale', type: 'f32', doc: '1 / scale of the int8 output (OUT_INT8 only)' },
]);

/** Bindings of both INT8 GEMMs: c (f16) and cq (packed int8) are the two outputs, both always bound. */
export const INT8_GEMM_BINDINGS = ['params', 'a', 'b', 'wScale', 'bias', 'c', 'cq'] as const;

/** What an INT8 GEMM does after dequantising: bias, then maybe GELU or a residual add. */
export type Int8Epilogue = 'bias' | 'bias-gelu-erf' | 'bias-gelu-tanh' | 'bias-residual';
const EPILOGUE_CODE: Record<Int8Epilogue, number> = {
  bias: 0,
  'bias-gelu-erf': 1,
  'bias-gelu-tanh': 2,
  'bias-residual': 3,
};

/**
 * An INT8 GEMM variant: `dot4` (kernels/gemm_int8.wgsl, any adapter with the WGSL feature
 * packed_4x8_integer_dot_product) or `subgroup-matrix` (kernels/gemm_int8_subgroup_matrix.wgsl,
 * i8 tensor cores) with its tile: sgM x sgN subgroups, each owning fm x fn 16x16 fragments.
 * Both read weights as [N, K/4]: a row per output channel, 4 int8 per word along K.
 */
export type Int8GemmVariant =
  | { kind: 'dot4' }
  | {
      kind: 'subgroup-matrix';
      sgM: number;
      sgN: number;
      fm: number;
      fn: number;
      /** int8 K per step, 64 (default) or 128. */
      bk?: number;
      /** Tile buffers, 2 (default) or 1 (needed for bk 128 with 128x128 tiles). */
      stages?: number;
      /** Main loop in CUTLASS MmaPipelined order (key suffix `-p`). */
      pipelined?: boolean;
      /** Epilogue a row of fragments per round through strips in the tiles (`-e`). */
      strips?: boolean;
      /** B fragments straight from storage, only A staged; needs K % bk == 0 (`-d`). */
      directB?: boolean;
    };

/** The designs of issue #23 a tensor-core tile can add, each off unless set. */
export interface Int8TileOptions {
  pipelined?: boolean;
  strips?: boolean;
  directB?: boolean;
}

const tile = (
  sgM: number,
  sgN: number,
  fm: number,
  fn: number,
  bk = 64,
  stages = 2,
  options: Int8TileOptions = {},
): Int8GemmVariant => ({
  kind: 'subgroup-matrix',
  sgM,
  sgN,
  fm,
  fn,
  ...(bk === 64 ? {} : { bk }),
  ...(stages === 2 ? {} : { stages }),
  ...(options.pipelined ? { pipelined: true } : {}),
  ...(options.strips ? { strips: true } : {}),
  ...(options.directB ? { directB: true } : {}),
});
/**
 * Tuning candidates (subgroups sgM x sgN, fragments fm x fn each); see int8WorkgroupBytes. On an
 * H100 (ViT-B/16-384, batch 32) the 128x128 tile with one K-128 buffer and the 256x128 one of 16
 * subgroups with one K-64 buffer led (qkv 0.229 / 0.227 ms, fc2 0.237 / 0.260); 64x64 per subgroup
 * (f4x4) came close on 128x256 (qkv 0.218, fc2 0.269) and lost on 128x128.
 */
export const INT8_SUBGROUP_MATRIX_TILES: Int8GemmVariant[] = [
  tile(2, 2, 2, 2),
  tile(2, 2, 2, 2, 128, 1),
  tile(2, 4, 4, 2),
  tile(2, 4, 4, 2, 128, 1),
  tile(4, 2, 2, 4, 128, 1),
  tile(4, 4, 4, 2, 64, 1),
  tile(2, 4, 4, 4, 64, 1),
  tile(2, 2, 4, 4, 128, 1),
];

export function int8VariantKey(v: Int8GemmVariant): string {
  if (v.kind === 'dot4') return 'dot4';
  const bk = (v.bk ?? 64) === 64 ? '' : `-bk${v.bk}`;
  const st = (v.stages ?? 2) === 2 ? '' : `-st${v.stages}`;
  const designs = `${v.pipelined ? '-p' : ''}${v.strips ? '-e' : ''}${v.directB ? '-d' : ''}`;
  return `i8mat-${v.sgM}x${v.sgN}-f${v.fm}x${v.fn}${bk}${st}${designs}`;
}

export function parseInt8Variant(key: string): Int8GemmVariant {
  if (key === 'dot4') return { kind: 'dot4' };
  const m = /^i8mat-(\d)x(\d)-f(\d)x(\d)(?:-bk(\d+))?(?:-st(\d))?(-p)?(-e)?(-d)?$/.exec(key);
  if (!m)
    throw new EngineError(
      `unknown INT8 GEMM variant '${key}' (dot4 or i8mat-<m>x<n>-f<m>x<n>[-bk<k>][-st<s>][-p][-e][-d] expected)`,
      { input: key },
    );
  const v = tile(
    Number(m[1]),
    Number(m[2]),
    Number(m[3]),
    Number(m[4]),
    m[5] ? Number(m[5]) : 64,
    m[6] ? Number(m[6]) : 2,
    { pipelined: m[7] !== undefined, strips: m[8] !== undefined, directB: m[9] !== undefined },
  );
  // The epilogue stores int8 output two fragments at a time.
  if (Number(m[4]) % 2 !== 0)
    throw new EngineError(`INT8 GEMM variant '${key}': fragments per subgroup along N must be even`, {
      input: key,
    });
  if (v.kind === 'subgroup-matrix' && v.pipelined && (v.bk ?? 64) < 64)
    throw new EngineError(`INT8 GEMM variant '${key}': the pipelined main loop needs bk 64 or more`, {
      input: key,
    });
  if (v.kind === 'subgroup-matrix' && v.strips && !int8StripLayout(v))
    throw new EngineError(`INT8 GEMM variant '${key}': the epilogue strips fit in neither tile`, {
      input: key,
    });
  return v;
}

/** Output tile of a workgroup, rows x columns. */
export function int8TileOf(v: Int8GemmVariant): { bm: number; bn: number } {
  return v.kind === 'dot4' ? { bm: 64, bn: 64 } : { bm: 16 * v.fm * v.sgM, bn: 16 * v.fn * v.sgN };
}

/** WebGPU's default (and the H100's) workgroup memory limit, bytes. */
const WORKGROUP_BYTES = 49152;

/**
 * Where the tensor-core kernel's epilogue puts fragments (kernels/gemm_int8_subgroup_matrix.wgsl):
 * two 16x16 i32 slots per subgroup (one barrier per fragment) or one (two barriers), in tileA once
 * the K loop is done when it is large enough, else in a scratch array of their own.
 */
export function int8EpilogueSlots(v: Int8GemmVariant & { kind: 'subgroup-matrix' }): {
  slots: 1 | 2;
  inTile: boolean;
} {
  const { tileA, tiles } = int8TileWords(v);
  const slotWords = 256 * v.sgM * v.sgN;
  if (tileA >= 2 * slotWords) return { slots: 2, inTile: true };
  if (4 * (tiles + 2 * slotWords) <= WORKGROUP_BYTES) return { slots: 2, inTile: false };
  return { slots: 1, inTile: tileA >= slotWords };
}

/**
 * 32-bit words of the padded A tile buffers, the B ones (none when B is read from storage) and
 * both together (bk int8 deep).
 */
function int8TileWords(v: Int8GemmVariant & { kind: 'subgroup-matrix' }): {
  tileA: number;
  tileB: number;
  tiles: number;
} {
  const { bm, bn } = int8TileOf(v);
  const row = (v.bk ?? 64) / 4 + 4;
  const stages = v.stages ?? 2;
  const tileB = v.directB ? 0 : stages * bn * row;
  return { tileA: stages * bm * row, tileB, tiles: stages * bm * row + tileB };
}

/** Words of one round of the strip epilogue: a 16-row strip of sf fragments per subgroup, rows padded by 4. */
function int8StripWords(v: Int8GemmVariant & { kind: 'subgroup-matrix' }, sf: number): number {
  return v.sgM * v.sgN * 16 * (16 * sf + 4);
}

/** Where the strip epilogue's rounds go (the kernel's SF, STRIPS and STRIP_B). */
export interface Int8StripLayout {
  /** Fragments per strip: the subgroup's fn, or half of it (even either way: int8 output pairs them). */
  sf: number;
  /** Regions: 2 (tileA and tileB, rounds alternate, one barrier a round) or 1 (two barriers). */
  regions: 1 | 2;
  /** The single region is tileB (tileA too small). */
  inB: boolean;
}

/**
 * The strip epilogue's layout with the fewest barriers (wider strips where equal), or undefined
 * when no strip fits in tileA or tileB (such a variant is refused).
 */
export function int8StripLayout(
  v: Int8GemmVariant & { kind: 'subgroup-matrix' },
): Int8StripLayout | undefined {
  const { tileA, tileB } = int8TileWords(v);
  const options: Int8StripLayout[] = [];
  for (const sf of [v.fn, v.fn / 2]) {
    if (!Number.isInteger(sf) || sf % 2 !== 0) continue;
    const words = int8StripWords(v, sf);
    if (tileA >= words && tileB >= words) options.push({ sf, regions: 2, inB: false });
    else if (tileA >= words || tileB >= words) options.push({ sf, regions: 1, inB: tileA < words });
  }
  // Rounds times barriers per round: one with two regions, two with one.
  const barriers = (o: Int8StripLayout) => ((v.fm * v.fn) / o.sf) * (3 - o.regions);
  return options.sort((a, b) => barriers(a) - barriers(b) || b.sf - a.sf)[0];
}

/**
 * Rows of fragments that the tensor-core kernel's epilogue finishes before storing them (a divisor
 * of fm): as many as keep at most 8 fragments' results waiting in registers.
 */
function epilogueRows(fm: number, fn: number): number {
  let rows = fm;
  while (rows > 1 && (rows * fn > 8 || fm % rows !== 0)) rows--;
  return rows;
}

/** Workgroup memory: padded A and B stages (bk int8 deep) and the epilogue's slots unless in tileA. */
export function int8WorkgroupBytes(v: Int8GemmVariant): number {
  if (v.kind === 'dot4') return 2 * 8 * 64 * 4;
  const { slots, inTile } = int8EpilogueSlots(v);
  if (v.strips) return 4 * int8TileWords(v).tiles;
  return 4 * (int8TileWords(v).tiles + (inTile ? 0 : slots * 256 * v.sgM * v.sgN));
}

/**
 * Whether a variant can run a shape: dot4 needs K, N multiples of 4; tensor cores 16 (vec4 word
 * loads), and B read from storage whole K steps (its fragments have no edge handling along K).
 */
export function int8VariantSupports(v: Int8GemmVariant, K: number, N: number): boolean {
  if (v.kind === 'dot4') return K % 4 === 0 && N % 4 === 0;
  return K % 16 === 0 && N % 16 === 0 && (!v.directB || K % (v.bk ?? 64) === 0);
}

/**
 * The template constants of the designs a variant adds; none for a variant without them, whose
 * source thus stays as it was before they existed.
 */
function designConsts(v: Int8GemmVariant & { kind: 'subgroup-matrix' }): Record<string, number> {
  const consts: Record<string, number> = {};
  if (v.pipelined) consts.PIPELINED = 1;
  if (v.directB) consts.DIRECT_B = 1;
  if (v.strips) {
    const layout = int8StripLayout(v);
    if (!layout)
      throw new EngineError(
        `INT8 GEMM variant ${int8VariantKey(v)}: the epilogue strips fit in neither tile`,
        {
          input: int8VariantKey(v),
        },
      );
    // The slots go unused: no scratch array of their own.
    consts.SLOTS_IN_TILE = 1;
    consts.STRIPS = layout.regions;
    consts.SF = layout.sf;
    if (layout.inB) consts.STRIP_B = 1;
  }
  return consts;
}

/** kernels/gemm_int8_subgroup_matrix.wgsl with its template constants for a tile. */
export function int8TensorCoreSource(v: Int8GemmVariant & { kind: 'subgroup-matrix' }): string {
  const { slots, inTile } = int8EpilogueSlots(v);
  return kernelSource('gemm_int8_subgroup_matrix', {
    params: INT8_GEMM_PARAMS,
    consts: {
      SG_M: v.sgM,
      SG_N: v.sgN,
      FM: v.fm,
      FN: v.fn,
      BK: v.bk ?? 64,
      STAGES: v.stages ?? 2,
      SLOTS: slots,
      SLOTS_IN_TILE: inTile ? 1 : 0,
      EPI_ROWS: epilogueRows(v.fm, v.fn),
      ...designConsts(v),
    },
  });
}

export interface Int8GemmKernel {
  variant: Int8GemmVariant;
  epilogue: Int8Epilogue;
  outInt8: boolean;
  pipeline: GPUComputePipeline;
  bindings: typeof INT8_GEMM_BINDINGS;
  /**
   * INT8_GEMM_PARAMS.
   * Bindings: params, a (u32 [M, K/4]), b (weights, u32 [N, K/4]), wScale (f32 [N]),
   * bias (f32 [N]), c (f16 [M, N]), cq (u32 [M, N/4]). Both outputs are always bound.
   */
  params(M: number, N: number, K: number, aScale: number, outScale?: number): ArrayBuffer;
  workgroups(M: number, N: number): [number, number, number];
}

export async function createInt8GemmKernel(
  device: GPUDevice,
  epilogue: Int8Epilogue,
  variant: Int8GemmVariant,
  outInt8 = false,
): Promise<Int8GemmKernel> {
  const constants = { EPILOGUE: EPILOGUE_CODE[epilogue], OUT_INT8: outInt8 ? 1 : 0 };
  const label = `gemm-int8-${int8VariantKey(variant)}-${epilogue}${outInt8 ? '-q' : ''}`;
  const params = (M: number, N: number, K: number, aScale: number, outScale = 1) => {
    if (!int8VariantSupports(variant, K, N))
      throw new EngineError(
        `INT8 GEMM ${int8VariantKey(variant)} ${M}x${N}x${K}: K and N must be multiples of ${variant.kind === 'dot4' ? 4 : 16}`,
      );
    return INT8_GEMM_PARAMS.pack({ M, N, K, aScale, outInvScale: 1 / outScale });
  };
  const code =
    variant.kind === 'dot4'
      ? kernelSource('gemm_int8', { params: INT8_GEMM_PARAMS })
      : int8TensorCoreSource(variant);
  const pipeline = await computePipeline(device, label, code, 'main', constants);
  const { bm, bn } = int8TileOf(variant);
  return {
    variant,
    epilogue,
    outInt8,
    pipeline,
    bindings: INT8_GEMM_BINDINGS,
    params,
    workgroups: (M, N) => [Math.ceil(N / bn), Math.ceil(M / bm), 1],
  };
}
