import { EngineError } from '../../errors.js';
import { paramsLayout } from './params.js';
import {
  type BindingBuffers,
  type BindingNames,
  computePipeline,
  type ElementType,
  kernelSource,
  spread,
} from './source.js';

/** Params of every GEMM pass: gemm, gemm_subgroup_matrix(_direct) and split-K's gemm_reduce. */
export const GEMM_PARAMS = paramsLayout([
  { name: 'M', type: 'u32' },
  { name: 'N', type: 'u32' },
  { name: 'K', type: 'u32' },
  { name: 'splits', type: 'u32', doc: 'K splits (split-K only)' },
]);

/** Bindings of the GEMM kernels (gemm, gemm_subgroup_matrix(_direct)); `part` is split-K's workspace. */
export const GEMM_BINDINGS = ['params', 'a', 'b', 'bias', 'c', 'part'] as const;
/** Bindings of split-K's reduce pass (gemm_reduce). */
export const GEMM_REDUCE_BINDINGS = ['params', 'part', 'bias', 'c'] as const;

/** What a GEMM does after A·B: always adds the bias, then maybe GELU or a residual add. */
export type Epilogue = 'bias' | 'bias-gelu-erf' | 'bias-gelu-tanh' | 'bias-residual';
const EPILOGUE_CODE: Record<Epilogue, number> = {
  bias: 0,
  'bias-gelu-erf': 1,
  'bias-gelu-tanh': 2,
  'bias-residual': 3,
};

/**
 * A GEMM variant: `portable` (kernels/gemm.wgsl, any adapter, f32 or f16 storage),
 * `subgroup-matrix` (kernels/gemm_subgroup_matrix.wgsl, tensor cores, f16 only) with its tile
 * shape: sgM x sgN subgroups, each owning fm x fn fragments of 16x16 (default 2 x 2), K steps
 * of bk (default 32; 64 fits the workgroup memory only for small tiles), or
 * `subgroup-matrix-direct` (kernels/gemm_subgroup_matrix_direct.wgsl): the same tile shape, but
 * fragments loaded straight from storage, `ks` K-steps of 16 per loop trip (default 1); `bCol`
 * reads B pre-transposed ([N,K]), for timing only: the engine uploads weights as [K,N].
 *
 * `splitK` (portable and subgroup-matrix, >= 2; N % 4 == 0): split-K, for shapes whose output
 * tiles are too few to fill the GPU. Workgroup z of splitK multiplies one K chunk into an f32
 * workspace [splitK, M, N]; a second pass (kernels/gemm_reduce.wgsl) sums the splits and
 * applies the epilogue. Key suffix `-s<splitK>`.
 */
export type GemmVariant =
  | { kind: 'portable'; splitK?: number }
  | {
      kind: 'subgroup-matrix';
      sgM: number;
      sgN: number;
      fm?: number;
      fn?: number;
      bk?: number;
      splitK?: number;
      /** 16-byte global loads (K and N multiples of 8). Key suffix `-w`. */
      wide?: boolean;
      /** B stored transposed, [N, K]. Key suffix `-bt`. */
      bt?: boolean;
      /** Workgroup tile buffers, 2 (default) or 1 (then bk 64 fits 128x128 tiles). Key suffix `-st1`. */
      stages?: number;
      /** f16 accumulators (f16 rounding on every multiply-accumulate; scratch in tileA). Key suffix `-h`. */
      f16Acc?: boolean;
      /** Epilogue a fragment row (16 x 16 fn) per round, FM rounds of 2 barriers. Key suffix `-e`. */
      strip?: boolean;
      /** Main loop in CUTLASS MmaPipelined order (bk >= 32). Key suffix `-p`. */
      pipelined?: boolean;
    }
  | {
      kind: 'subgroup-matrix-direct';
      sgM: number;
      sgN: number;
      fm: number;
      fn: number;
      ks?: number;
      bCol?: boolean;
    };

export function variantKey(v: GemmVariant): string {
  const split = v.kind !== 'subgroup-matrix-direct' && (v.splitK ?? 1) > 1 ? `-s${v.splitK}` : '';
  if (v.kind === 'portable') return `portable${split}`;
  if (v.kind === 'subgroup-matrix-direct')
    return `sgdir-${v.sgM}x${v.sgN}-f${v.fm}x${v.fn}${(v.ks ?? 1) === 1 ? '' : `-k${v.ks}`}${v.bCol ? '-bt' : ''}`;
  const fm = v.fm ?? 2;
  const fn = v.fn ?? 2;
  return `sgmat-${v.sgM}x${v.sgN}${fm === 2 && fn === 2 ? '' : `-f${fm}x${fn}`}${(v.bk ?? 32) === 32 ? '' : `-bk${v.bk}`}${v.wide ? '-w' : ''}${v.bt ? '-bt' : ''}${(v.stages ?? 2) === 2 ? '' : `-st${v.stages}`}${v.f16Acc ? '-h' : ''}${v.strip ? '-e' : ''}${v.pipelined ? '-p' : ''}${split}`;
}

/** Inverse of variantKey; undefined for a name it does not know. */
export function parseVariant(key: string): GemmVariant | undefined {
  const p = /^portable(?:-s(\d+))?$/.exec(key);
  if (p) return p[1] ? { kind: 'portable', splitK: Number(p[1]) } : { kind: 'portable' };
  const d = /^sgdir-(\d+)x(\d+)-f(\d+)x(\d+)(?:-k(\d+))?(-bt)?$/.exec(key);
  if (d) {
    const v: GemmVariant = {
      kind: 'subgroup-matrix-direct',
      sgM: Number(d[1]),
      sgN: Number(d[2]),
      fm: Number(d[3]),
      fn: Number(d[4]),
    };
    if (d[5]) v.ks = Number(d[5]);
    if (d[6]) v.bCol = true;
    return v;
  }
  const m =
    /^sgmat-(\d+)x(\d+)(?:-f(\d+)x(\d+))?(?:-bk(\d+))?(-w)?(-bt)?(?:-st(\d+))?(-h)?(-e)?(-p)?(?:-s(\d+))?$/.exec(
      key,
    );
  if (!m) return undefined;
  const v: GemmVariant = { kind: 'subgroup-matrix', sgM: Number(m[1]), sgN: Number(m[2]) };
  if (m[3]) Object.assign(v, { fm: Number(m[3]), fn: Number(m[4]) });
  if (m[5]) v.bk = Number(m[5]);
  if (m[6]) v.wide = true;
  if (m[7]) v.bt = true;
  if (m[8]) v.stages = Number(m[8]);
  if (m[9]) v.f16Acc = true;
  if (m[10]) v.strip = true;
  if (m[11]) v.pipelined = true;
  if (m[12]) v.splitK = Number(m[12]);
  return v;
}

/** K splits of a variant: 1 for a one-pass GEMM. */
export function splitsOf(v: GemmVariant): number {
  return v.kind === 'subgroup-matrix-direct' ? 1 : Math.max(1, v.splitK ?? 1);
}

/** The same variant without split-K. */
export function unsplit(v: GemmVariant): GemmVariant {
  if (v.kind === 'subgroup-matrix-direct' || v.splitK === undefined) return v;
  const { splitK: _, ...rest } = v;
  return rest;
}

/** Bytes of the f32 split-K workspace [splits, M, N] a variant needs; 0 without split-K. */
export function workspaceBytes(v: GemmVariant, M: number, N: number): number {
  const s = splitsOf(v);
  return s > 1 ? s * M * N * 4 : 0;
}

/** Tiles that split-K is tried with (tuning): the small ones, which leave the GPU emptiest. */
export const SPLIT_K_TILES: GemmVariant[] = [
  { kind: 'subgroup-matrix', sgM: 2, sgN: 2 },
  { kind: 'subgroup-matrix', sgM: 2, sgN: 2, wide: true },
  { kind: 'subgroup-matrix', sgM: 4, sgN: 2 },
  { kind: 'subgroup-matrix', sgM: 2, sgN: 4 },
];
export const SPLIT_K_FACTORS = [2, 4, 8];

/** Output tile of a workgroup, rows x columns. */
export function tileOf(v: GemmVariant): { bm: number; bn: number } {
  if (v.kind === 'portable') return { bm: 64, bn: 64 };
  return { bm: 16 * (v.fm ?? 2) * v.sgM, bn: 16 * (v.fn ?? 2) * v.sgN };
}

/**
 * Workgroup memory of a subgroup-matrix variant: two padded A and B buffers (BK 32) and a 16x16
 * f32 scratch per subgroup (a strip of 16 x (16 fn + 4) with `strip`); with f16 accumulators
 * the f16 scratch (16x16, or a strip of 16 x (16 fn + 8)) lives in the A buffers, which grow if
 * it needs more. The direct variant has only fn scratch fragments per subgroup and a 16x16 f16
 * tile for M < 16.
 */
export function workgroupBytes(v: GemmVariant): number {
  if (v.kind === 'portable') return 2 * 16 * 64 * 4;
  if (v.kind === 'subgroup-matrix-direct') return 256 * 4 * v.fn * v.sgM * v.sgN + 512;
  const { bm, bn } = tileOf(v);
  const bk = v.bk ?? 32;
  const bTile = v.bt ? bn * (bk + 8) : bk * (bn + 8);
  const stages = v.stages ?? 2;
  const subgroups = v.sgM * v.sgN;
  const stripRow = 16 * (v.fn ?? 2) + (v.f16Acc ? 8 : 4);
  if (v.f16Acc) {
    const scratchHalves = (v.strip ? 16 * stripRow : 256) * subgroups;
    return Math.max(stages * bm * (bk + 8), scratchHalves) * 2 + stages * bTile * 2;
  }
  const scratch = v.strip ? 16 * stripRow * 4 * subgroups : 256 * 4 * subgroups;
  return stages * (bm * (bk + 8) + bTile) * 2 + scratch;
}

/**
 * Direct-load tensor-core variants (K and N multiples of 16). Not tuning candidates: on an H100
 * they lost to the staged kernel on every ViT-B/16 GEMM (e.g. fc1 13 vs 99 TFLOP/s); kept for
 * `node bench/gemm-variants.mjs` and tested.
 */
export const DIRECT_TILES: GemmVariant[] = [
  { kind: 'subgroup-matrix-direct', sgM: 2, sgN: 2, fm: 4, fn: 4 },
  { kind: 'subgroup-matrix-direct', sgM: 2, sgN: 2, fm: 2, fn: 4 },
  { kind: 'subgroup-matrix-direct', sgM: 2, sgN: 2, fm: 4, fn: 2 },
  { kind: 'subgroup-matrix-direct', sgM: 2, sgN: 2, fm: 2, fn: 2, ks: 2 },
  { kind: 'subgroup-matrix-direct', sgM: 2, sgN: 2, fm: 2, fn: 4, ks: 2 },
  { kind: 'subgroup-matrix-direct', sgM: 1, sgN: 4, fm: 4, fn: 4 },
  { kind: 'subgroup-matrix-direct', sgM: 4, sgN: 1, fm: 4, fn: 4 },
  { kind: 'subgroup-matrix-direct', sgM: 2, sgN: 4, fm: 4, fn: 4 },
  { kind: 'subgroup-matrix-direct', sgM: 4, sgN: 2, fm: 4, fn: 4 },
];

/**
 * Tuning candidates; those over the adapter's workgroup memory limit or needing K, N % 8 (`-w`)
 * are dropped where used. On an H100 at batch 32 (ViT-B/16-384) 16-byte loads and, for 128x128
 * tiles, one K-64 buffer instead of two K-32 ones won: qkv 0.546 -> 0.413 ms, fc2 0.740 ->
 * 0.565 ms (sgmat-2x4-f4x2-w -> sgmat-2x4-f4x2-bk64-w-st1). 4x4 fragments per subgroup (64x64)
 * lost with 2x2 subgroups but won with 2x4 of them and one K-32 buffer (128x256 tiles): qkv
 * 0.350-0.367 vs 0.409-0.425 ms, fc2 0.492-0.503 vs 0.557-0.577 at batch 32, and at batch 8.
 */
export const SUBGROUP_MATRIX_TILES: GemmVariant[] = [
  { kind: 'subgroup-matrix', sgM: 2, sgN: 2 },
  { kind: 'subgroup-matrix', sgM: 2, sgN: 2, wide: true },
  { kind: 'subgroup-matrix', sgM: 2, sgN: 2, bk: 64, wide: true },
  { kind: 'subgroup-matrix', sgM: 2, sgN: 2, bk: 128, wide: true, stages: 1 },
  { kind: 'subgroup-matrix', sgM: 2, sgN: 4, fm: 4, fn: 2 },
  { kind: 'subgroup-matrix', sgM: 2, sgN: 4, fm: 4, fn: 2, wide: true },
  { kind: 'subgroup-matrix', sgM: 4, sgN: 2, fm: 2, fn: 4, wide: true },
  { kind: 'subgroup-matrix', sgM: 2, sgN: 4, fm: 4, fn: 2, bk: 64, wide: true, stages: 1 },
  { kind: 'subgroup-matrix', sgM: 4, sgN: 2, fm: 2, fn: 4, bk: 64, wide: true, stages: 1 },
  { kind: 'subgroup-matrix', sgM: 2, sgN: 4, fm: 4, fn: 4, wide: true, stages: 1 },
  { kind: 'subgroup-matrix', sgM: 4, sgN: 2, fm: 4, fn: 4, wide: true, stages: 1 },
];

/** Whether a variant can run a shape at all (vec4 loads need K and N multiples of 4). */
export function variantSupports(v: GemmVariant, type: ElementType, K: number, N: number): boolean {
  // The reduce pass reads vec4s.
  if (splitsOf(v) > 1 && N % 4 !== 0) return false;
  if (v.kind === 'subgroup-matrix-direct')
    return type === 'f16' && !v.bCol && K % (16 * (v.ks ?? 1)) === 0 && N % 16 === 0;
  if (v.kind === 'portable') return true;
  const vw = v.wide ? 8 : 4;
  if (v.pipelined && (v.bk ?? 32) < 32) return false;
  return type === 'f16' && K % vw === 0 && N % vw === 0;
}

/** The buffers of one GEMM; `workspace` (f32, >= workspaceBytes) only for split-K. */
export interface GemmBuffers {
  params: GPUBuffer;
  a: GPUBuffer;
  b: GPUBuffer;
  bias: GPUBuffer;
  c: GPUBuffer;
  workspace?: GPUBuffer;
}

/** Where a GEMM records its dispatches (PlanRecorder in forward-plan.ts). */
export interface DispatchSink {
  add<const N extends BindingNames>(
    label: string,
    pipeline: GPUComputePipeline,
    names: N,
    buffers: BindingBuffers<N>,
    workgroups: [number, number, number],
  ): void;
}

export interface GemmKernel {
  variant: GemmVariant;
  epilogue: Epilogue;
  /**
   * The one pass (params, a, b, bias, c), dispatched over workgroups(M, N). For split-K this is
   * the partial-product pass (params, a, b, part = the workspace): use record().
   */
  pipeline: GPUComputePipeline;
  bindings: typeof GEMM_BINDINGS;
  /** GEMM_PARAMS, shared by both passes of split-K. */
  params(M: number, N: number, K: number): ArrayBuffer;
  workgroups(M: number, N: number): [number, number, number];
  /** K splits: 1, or the split-K factor (then a second, reduce dispatch follows). */
  splits: number;
  /** Bytes of f32 workspace the GEMM needs at M x N (0 unless split-K). */
  workspaceBytes(M: number, N: number): number;
  /** Adds the GEMM's dispatches, one or two (split-K: partial products, then reduce + epilogue). */
  record(rec: DispatchSink, label: string, buffers: GemmBuffers, M: number, N: number): void;
}

export async function createGemmKernel(
  device: GPUDevice,
  type: ElementType,
  epilogue: Epilogue,
  variant: GemmVariant,
): Promise<GemmKernel> {
  const splits = splitsOf(variant);
  const partial = splits > 1 ? 1 : 0;
  // Split-K's first pass has no epilogue: EPILOGUE only goes to the pass that applies it.
  const constants = partial ? undefined : { EPILOGUE: EPILOGUE_CODE[epilogue] };
  const label = `gemm-${variantKey(variant)}-${epilogue}`;
  let pipeline: Promise<GPUComputePipeline>;
  let tile: { bm: number; bn: number };
  if (variant.kind === 'portable') {
    const code = kernelSource('gemm', {
      elementType: type,
      params: GEMM_PARAMS,
      consts: { PARTIAL: partial },
    });
    pipeline = computePipeline(device, label, code, 'main', constants);
    tile = { bm: 64, bn: 64 };
  } else if (variant.kind === 'subgroup-matrix-direct') {
    const consts = {
      SG_M: variant.sgM,
      SG_N: variant.sgN,
      FM: variant.fm,
      FN: variant.fn,
      KS: variant.ks ?? 1,
      B_COL: variant.bCol ? 1 : 0,
    };
    const code = kernelSource('gemm_subgroup_matrix_direct', { params: GEMM_PARAMS, consts });
    pipeline = computePipeline(device, label, code, 'main', constants);
    tile = tileOf(variant);
  } else {
    // The pipelined loop names k-group s + 1's fragments in step s and stages the next tile in the
    // last step, which with one k-group would come before that tile's loads.
    if (variant.pipelined && (variant.bk ?? 32) < 32)
      throw new EngineError(`GEMM variant ${variantKey(variant)}: -p needs bk >= 32`, {
        input: variantKey(variant),
      });
    const consts = {
      SG_M: variant.sgM,
      SG_N: variant.sgN,
      FM: variant.fm ?? 2,
      FN: variant.fn ?? 2,
      BK: variant.bk ?? 32,
      PARTIAL: partial,
      WIDE: variant.wide ? 1 : 0,
      B_T: variant.bt ? 1 : 0,
      STAGES: variant.stages ?? 2,
      F16_ACC: variant.f16Acc ? 1 : 0,
      STRIP: variant.strip ? 1 : 0,
      PIPELINED: variant.pipelined ? 1 : 0,
    };
    pipeline = computePipeline(
      device,
      label,
      kernelSource('gemm_subgroup_matrix', { params: GEMM_PARAMS, consts }),
      'main',
      constants,
    );
    tile = tileOf(variant);
  }
  const reduce = partial
    ? computePipeline(
        device,
        `${label}-reduce`,
        kernelSource('gemm_reduce', { elementType: type, params: GEMM_PARAMS }),
        'main',
        {
          EPILOGUE: EPILOGUE_CODE[epilogue],
        },
      )
    : undefined;
  const [main, reducePipeline] = await Promise.all([pipeline, reduce]);
  const workgroups = (M: number, N: number): [number, number, number] => [
    Math.ceil(N / tile.bn),
    Math.ceil(M / tile.bm),
    splits,
  ];
  return {
    variant,
    epilogue,
    pipeline: main,
    bindings: GEMM_BINDINGS,
    splits,
    params: (M, N, K) => GEMM_PARAMS.pack({ M, N, K, splits }),
    workgroups,
    workspaceBytes: (M, N) => workspaceBytes(variant, M, N),
    record(rec, dispatchLabel, buf, M, N) {
      if (!reducePipeline) {
        const { params, a, b, bias, c } = buf;
        rec.add(dispatchLabel, main, GEMM_BINDINGS, { params, a, b, bias, c }, workgroups(M, N));
        return;
      }
      const need = workspaceBytes(variant, M, N);
      if (!buf.workspace || buf.workspace.size < need)
        throw new EngineError(
          `GEMM ${dispatchLabel} (${variantKey(variant)}, ${M}x${N}) needs a split-K workspace of ${need} bytes, got ${buf.workspace?.size ?? 'none'}`,
        );
      const { params, a, b, bias, c, workspace: part } = buf;
      rec.add(dispatchLabel, main, GEMM_BINDINGS, { params, a, b, part }, workgroups(M, N));
      rec.add(
        `${dispatchLabel}.reduce`,
        reducePipeline,
        GEMM_REDUCE_BINDINGS,
        { params, part, bias, c },
        spread(device, Math.ceil((M * N) / 4 / 256)),
      );
    },
  };
}
