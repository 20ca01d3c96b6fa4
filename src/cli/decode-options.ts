import os from 'node:os';
import type { Command } from 'commander';
import { PIXEL_FORMATS, type PixelFormat } from '../video/args.js';
import type { FfmpegHandle } from '../video/ffmpeg.js';
import { HWACCELS, type Hwaccel, nvdecSupport } from '../video/hwaccel.js';
import { parseChoice, parsePositiveInt } from './options.js';

export const HWACCEL_HELP =
  'where to decode: auto (NVDEC where this ffmpeg and the driver have it, else the CPU; a stream NVDEC refuses goes on on the CPU), cuda (NVDEC or fail), none (CPU). Default auto';
export const KEYFRAMES_HELP =
  'decode keyframes only (-skip_frame nokey): several times less decoding when few frames are wanted, but you get the frames the encoder made keyframes (often one every 2-10 s, uneven), not a rate you choose; --every then counts keyframes, --fps keeps at most that rate of them';
export const PIXEL_FORMAT_HELP =
  "frames from ffmpeg to the engine: nv12 (half the bytes; the engine converts on the device with the stream's BT.601/709 colour) or rgb. Image folders are always rgb. Default nv12";
export const DECODERS_HELP =
  'ffmpeg processes decoding at once (one per file); default 8 when NVDEC is used (its engines fill from ~8 sessions; 16+ gets slower), else a quarter of the CPU cores (2 to 8)';

export interface DecodeFlags {
  hwaccel?: string;
  keyframesOnly?: boolean;
  pixelFormat?: string;
  decoders?: string;
}

export interface DecodeChoice {
  hwaccel: Hwaccel;
  /** undefined: by the rule (classify: a file sampled with --fps at or below its keyframe rate). */
  keyframesOnly?: boolean;
  pixelFormat: PixelFormat;
  decoders?: number;
}

/** --hwaccel, --keyframes-only, --pixel-format and --decoders of classify. */
export function addDecodeOptions(cmd: Command): Command {
  return cmd
    .option('--hwaccel <h>', HWACCEL_HELP, 'auto')
    .option(
      '--keyframes-only',
      `${KEYFRAMES_HELP}. Without the flag, a file sampled with --fps F is decoded keyframes only when its keyframes come at least F times a second (its first 30 s tell)`,
    )
    .option('--no-keyframes-only', 'decode every frame, whatever the sampling')
    .option('--pixel-format <f>', PIXEL_FORMAT_HELP, 'nv12')
    .option('--decoders <n>', DECODERS_HELP);
}

export function parseDecodeFlags(f: DecodeFlags): DecodeChoice {
  return {
    hwaccel: parseChoice(f.hwaccel ?? 'auto', '--hwaccel', HWACCELS),
    keyframesOnly: f.keyframesOnly,
    pixelFormat: parseChoice(f.pixelFormat ?? 'nv12', '--pixel-format', PIXEL_FORMATS),
    decoders: f.decoders === undefined ? undefined : parsePositiveInt(f.decoders, '--decoders'),
  };
}

/** NVDEC sessions fill its engines from ~8 at once (2700 frames/s of 1080p H.264 on an H100, 32 gave 1800). */
export const DEFAULT_NVDEC_DECODERS = 8;

/**
 * CPU decoders share the cores with each other (each ffmpeg threads over all of them) and with the
 * pipeline: a quarter of the cores, 2 to 8. On 16 cores (H100 machine, 1080p H.264 to 224x224 NV12,
 * decode only) 1, 4, 8 and 16 decodes at once gave 1168, 1776, 2058 and 2293 frames/s.
 */
export function defaultCpuDecoders(cores = os.availableParallelism()): number {
  return Math.min(8, Math.max(2, Math.floor(cores / 4)));
}

/** --decoders when not given: by whether NVDEC will be used (probed once per process). */
export async function defaultDecoders(hwaccel: Hwaccel, ff: FfmpegHandle): Promise<number> {
  if (hwaccel === 'none') return defaultCpuDecoders();
  if (hwaccel === 'cuda') return DEFAULT_NVDEC_DECODERS;
  return (await nvdecSupport(ff)).available ? DEFAULT_NVDEC_DECODERS : defaultCpuDecoders();
}
