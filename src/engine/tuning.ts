import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EngineError } from '../errors.js';
import { cannotWrite } from '../util/output-file.js';
import type { ViTConfig } from './config.js';
import { type GemmRole, gemmRows, gemmShapes } from './forward-plan.js';
import { defaultTensorPolicy, type GemmPolicy } from './gemm-policy.js';
import { timeGemm } from './gemm-timing.js';
import type { GpuContext } from './gpu.js';
import {
  type GemmVariant,
  parseVariant,
  SPLIT_K_FACTORS,
  SPLIT_K_TILES,
  SUBGROUP_MATRIX_TILES,
  tileOf,
  variantKey,
  variantSupports,
  workgroupBytes,
  workspaceBytes,
} from './kernels/gemm.js';
import type { ElementType } from './kernels/source.js';

/**
 * GEMM autotuning, like FasterTransformer's `vit_gemm`: for every GEMM shape of a model and
 * batch size, time each candidate kernel on the actual adapter and keep the fastest. Results
 * live in a JSON cache keyed by adapter and shape, read by the engine at open.
 */
export interface TuningEntry {
  variant: string;
  ms: number;
  tflops: number;
  /** Every candidate's time, for the report. */
  candidates: Record<string, number>;
}

export interface TuningCache {
  version: 1;
  /** adapter key -> "type MxNxK" -> best variant */
  adapters: Record<string, Record<string, TuningEntry>>;
}

export function adapterKey(gpu: GpuContext): string {
  const i = gpu.info;
  return [i.vendor, i.architecture, i.device, i.description].filter(Boolean).join(' / ') || 'unknown adapter';
}

export function defaultTuningFile(): string {
  const base =
    process.env.VITSTREAM_CACHE ??
    path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'vitstream');
  return path.join(base, 'gemm-tuning.json');
}

/** Reads the cache; a missing, unreadable or stale-format file is an empty cache (defaults apply). */
export function readTuningCache(file = defaultTuningFile()): TuningCache {
  if (!existsSync(file)) return { version: 1, adapters: {} };
  try {
    const c = JSON.parse(readFileSync(file, 'utf8')) as TuningCache;
    return c && c.version === 1 && typeof c.adapters === 'object' ? c : { version: 1, adapters: {} };
  } catch {
    return { version: 1, adapters: {} };
  }
}

export function writeTuningCache(cache: TuningCache, file = defaultTuningFile()): void {
  try {
    mkdirSync(path.dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(cache, null, 1)}\n`);
    renameSync(tmp, file);
  } catch (e) {
    throw cannotWrite(file, 'the tuning cache', e);
  }
}

/** A GEMM shape's key in an adapter's table: `f16 MxNxK`, `f32 …`, or `i8 …` for the INT8 kernels. */
export const shapeKey = (type: ElementType | 'i8', M: number, N: number, K: number) =>
  `${type} ${M}x${N}x${K}`;

/**
 * Output tiles below which split-K is worth timing: a few per SM of a large GPU (an H100 has
 * 132). Above it the grid already fills the GPU and the extra f32 traffic can only lose.
 */
const SPLIT_K_MAX_TILES = 1024;

/**
 * Candidates for one shape: portable, the tensor-core tiles, and with M given, split-K over the
 * small tiles where their grid is small, each split a whole number of K steps and the workspace
 * within one binding.
 */
export function candidatesFor(
  gpu: GpuContext,
  type: ElementType,
  K: number,
  N: number,
  M?: number,
): GemmVariant[] {
  const all: GemmVariant[] = [{ kind: 'portable' }];
  if (gpu.hasF16TensorCores && type === 'f16') {
    all.push(...SUBGROUP_MATRIX_TILES);
    const maxWorkspace = Math.min(gpu.limits.maxStorageBufferBindingSize, gpu.limits.maxBufferSize);
    for (const tile of M === undefined ? [] : SPLIT_K_TILES) {
      if (tile.kind !== 'subgroup-matrix') continue;
      const { bm, bn } = tileOf(tile);
      if (Math.ceil(M! / bm) * Math.ceil(N / bn) > SPLIT_K_MAX_TILES) continue;
      for (const splitK of SPLIT_K_FACTORS) {
        const v: GemmVariant = { ...tile, splitK };
        if (K % (splitK * (tile.bk ?? 32)) === 0 && workspaceBytes(v, M!, N) <= maxWorkspace) all.push(v);
      }
    }
  }
  return all.filter(
    (v) => variantSupports(v, type, K, N) && workgroupBytes(v) <= gpu.limits.maxComputeWorkgroupStorageSize,
  );
}

/** Passes over the candidates of one shape; each keeps its fastest reading. */
export const TUNE_PASSES = 2;

/**
 * Times every candidate TUNE_PASSES times, one pass over the list after the other, and keeps each
 * one's fastest reading (`time` resolves undefined for a candidate that cannot run: left out).
 * On an H100 a reading now and then came out 2-4x slow for a while (the same 128x256 qkv tile:
 * 1.688 ms in one tuning pass, 0.350-0.367 in five other runs), which made the tuner keep the
 * second-best tile; the second pass gives every candidate another reading, seconds later.
 */
export async function timeInPasses(
  keys: string[],
  time: (key: string) => Promise<number | undefined>,
): Promise<Record<string, number>> {
  const best: Record<string, number> = {};
  const failed = new Set<string>();
  for (let pass = 0; pass < TUNE_PASSES; pass++) {
    for (const key of keys) {
      if (failed.has(key)) continue;
      const ms = await time(key);
      if (ms === undefined) failed.add(key);
      else best[key] = Math.min(best[key] ?? Infinity, ms);
    }
  }
  return best;
}

/** The fastest of timeInPasses' readings, [key, ms]; undefined when none ran. */
export function fastestCandidate(candidates: Record<string, number>): [string, number] | undefined {
  let best: [string, number] | undefined;
  for (const entry of Object.entries(candidates)) if (!best || entry[1] < best[1]) best = entry;
  return best;
}

export interface TuneRow {
  role: GemmRole;
  batch: number;
  M: number;
  N: number;
  K: number;
  entry: TuningEntry;
}

export async function tuneModel(
  gpu: GpuContext,
  config: ViTConfig,
  type: ElementType,
  batches: number[],
  cache: TuningCache,
  onRow?: (row: TuneRow) => void,
): Promise<TuneRow[]> {
  const key = adapterKey(gpu);
  cache.adapters[key] ??= {};
  const table = cache.adapters[key];
  const rows: TuneRow[] = [];
  const shapes = gemmShapes(config);
  for (const batch of batches) {
    for (const role of Object.keys(shapes) as GemmRole[]) {
      const { K, N, epilogue } = shapes[role];
      const M = gemmRows(config, role, batch);
      const variants = new Map(candidatesFor(gpu, type, K, N, M).map((v) => [variantKey(v), v]));
      const candidates = await timeInPasses([...variants.keys()], (key) =>
        // A candidate the driver refuses (compile or pipeline error) is left out, not fatal.
        timeGemm(gpu.device, variants.get(key)!, type, { M, N, K, epilogue }).then(
          (t) => t.ms,
          () => undefined,
        ),
      );
      const fastest = fastestCandidate(candidates);
      if (!fastest)
        throw new EngineError(`tuning ${type} GEMM ${M}x${N}x${K}: no kernel variant ran on this adapter`);
      const [variant, ms] = fastest;
      const best: TuningEntry = { variant, ms, tflops: (2 * M * N * K) / (ms * 1e-3) / 1e12, candidates };
      table[shapeKey(type, M, N, K)] = best;
      const row = { role, batch, M, N, K, entry: best };
      rows.push(row);
      onRow?.(row);
    }
  }
  return rows;
}

/**
 * How far off in rows a tuned shape may be and still stand in for an untuned one of the same N and
 * K (a factor either way). Tiles tuned for batch 32 (M = 18464 at 384x384: 128x256 tiles) ran
 * batch 1 (M = 577: 45 such tiles for 132 SMs) at 3.65 ms on an H200, where the default policy's
 * smaller tiles take 2.1 ms; a batch twice or half the size fills the GPU alike.
 */
export const NEAREST_M_FACTOR = 2;

/**
 * The variant tuned for this shape, else for the nearest M (within NEAREST_M_FACTOR) of the same N
 * and K; undefined when none is that close.
 */
export function tunedVariantNear(
  table: Record<string, TuningEntry>,
  type: ElementType | 'i8',
  M: number,
  N: number,
  K: number,
): string | undefined {
  let nearest: { d: number; v: string } | undefined;
  for (const [k, e] of Object.entries(table)) {
    const m = /^(\w+) (\d+)x(\d+)x(\d+)$/.exec(k);
    if (!m || m[1] !== type || Number(m[3]) !== N || Number(m[4]) !== K) continue;
    const d = Math.abs(Math.log(Number(m[2]) / M));
    if (d <= Math.log(NEAREST_M_FACTOR) + 1e-9 && (!nearest || d < nearest.d)) nearest = { d, v: e.variant };
  }
  return nearest?.v;
}

/**
 * The batch sizes whose GEMMs tuning at `batches` covers (every GEMM's M is proportional to the
 * batch), as ranges: "1-4, 16-64" for batches 2 and 32.
 */
export function batchesCovered(batches: number[]): string {
  const spans = [...new Set(batches)]
    .sort((a, b) => a - b)
    .map((b) => [Math.max(1, Math.ceil(b / NEAREST_M_FACTOR)), Math.floor(b * NEAREST_M_FACTOR)]);
  const merged: number[][] = [];
  for (const [lo, hi] of spans) {
    const last = merged.at(-1);
    if (last && lo <= last[1] + 1) last[1] = Math.max(last[1], hi);
    else merged.push([lo, hi]);
  }
  return merged.map(([lo, hi]) => (lo === hi ? `${lo}` : `${lo}-${hi}`)).join(', ');
}

/**
 * The engine's GEMM policy from the cache: the tuned variant for this shape or one near it (see
 * tunedVariantNear), else the default (tensor cores when present).
 */
export function tunedPolicy(gpu: GpuContext, type: ElementType, cache: TuningCache): GemmPolicy {
  const table = cache.adapters[adapterKey(gpu)] ?? {};
  const tensor = gpu.hasF16TensorCores && type === 'f16' ? defaultTensorPolicy(gpu) : undefined;
  // A tensor-core entry is of no use where the adapter (or precision) has no tensor cores now,
  // e.g. a cache written with Dawn toggles that are no longer given.
  const usable = (key: string | undefined) => {
    const v = key === undefined ? undefined : parseVariant(key);
    return v && (tensor || v.kind === 'portable') ? v : undefined;
  };
  return (role, M, N, K) => {
    const fallback: GemmVariant = tensor ? tensor(role, M, N, K) : { kind: 'portable' };
    return usable(tunedVariantNear(table, type, M, N, K)) ?? fallback;
  };
}
