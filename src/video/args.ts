import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { OptionError, VideoSourceError } from '../errors.js';
import { isOneOf } from '../util/one-of.js';
import { type FfmpegHandle, passthroughArgs } from './ffmpeg.js';
import { isHlsUrl } from './hlsPlaylist.js';
import type { DecodePath } from './hwaccel.js';
import { protocolWhitelist } from './protocols.js';
import { rtspTransportArgs } from './rtspTransport.js';
import { isImagePath, type ResolvedSource } from './source.js';

export const RESIZE_MODES = ['squash', 'center-crop', 'letterbox'] as const;
export type ResizeMode = (typeof RESIZE_MODES)[number];

export interface FrameSize {
  width: number;
  height: number;
}

export function normalizeSize(size: number | FrameSize | [number, number]): FrameSize {
  if (size === undefined || size === null)
    throw new OptionError(
      'decodeFrames: options.size is required (the model input size, e.g. engine.config.imageSize)',
      { input: 'size' },
    );
  const s =
    typeof size === 'number'
      ? { width: size, height: size }
      : Array.isArray(size)
        ? { width: size[0], height: size[1] }
        : size;
  if (!Number.isInteger(s.width) || !Number.isInteger(s.height) || s.width < 1 || s.height < 1) {
    throw new OptionError(`frame size must be positive integers, got ${JSON.stringify(size)}`, {
      input: 'size',
    });
  }
  return s;
}

/** Pixel layouts decodeFrames can deliver: RGB24, or NV12 (a Y plane, then interleaved UV at half size). */
export const PIXEL_FORMATS = ['rgb', 'nv12'] as const;
export type PixelFormat = (typeof PIXEL_FORMATS)[number];

/** Bytes of one frame: W*H*3 for RGB; W*H + 2*ceil(W/2)*ceil(H/2) for NV12 (ffmpeg's rawvideo layout). */
export function frameBytes(size: FrameSize, pixelFormat: PixelFormat): number {
  const { width: w, height: h } = size;
  return pixelFormat === 'rgb' ? w * h * 3 : w * h + 2 * Math.ceil(w / 2) * Math.ceil(h / 2);
}

export interface FilterOptions {
  /** swscale algorithm of the CPU path (default 'bilinear'). */
  flags?: string;
  /** showinfo's per-plane checksums (only for ffmpeg builds that may lack `checksum=0`). */
  checksums?: boolean;
  /** 'cuda': frames arrive as CUDA surfaces (-hwaccel_output_format cuda); default 'none'. */
  path?: DecodePath;
  /** Default 'rgb'. */
  pixelFormat?: PixelFormat;
  /**
   * A `select` expression (see selectExpression) run before any scaling, behind a showinfo of its
   * own (`Parsed_showinfo_0`) that lists every decoded frame. CPU path, ffmpeg 5 on (checksum=0).
   */
  select?: string;
}

/**
 * The filter chain that turns any input into frames of exactly `size` (RGB24 or NV12), then
 * `showinfo`, whose per-frame line on stderr carries the frame's pts (our timestamp side channel).
 * showinfo runs on the small frame; `checksums: false` skips the per-plane Adler-32 sums it would
 * otherwise print and nobody reads: 600 frames of 1080p H.264 to 224² on a 2-core machine took
 * 1.45-1.57 s without them and 1.52-1.60 s with them, alternating runs. decodeArgs asks for that
 * from ffmpeg 5 on, which surely has the option; a build without a version number cannot be
 * placed, so those keep the checksums.
 *
 * On the cuda path the scaling runs on the GPU (scale_cuda, bilinear: closest to swscale's of its
 * algorithms) and only the scaled NV12 frame is downloaded; center-crop's crop and letterbox's
 * padding have no CUDA filter in ffmpeg 5, so they run after the download, on frames already
 * about model size. The CPU NV12 path pins limited range (`out_range=tv`): swscale would
 * otherwise turn full-range input limited without saying so, and the frames' colour must be known.
 */
export function scaleFilter(
  size: FrameSize,
  resize: ResizeMode,
  flags = 'bilinear',
  checksums = true,
  options: Omit<FilterOptions, 'flags' | 'checksums'> = {},
): string {
  const { width: w, height: h } = size;
  if (!isOneOf(RESIZE_MODES, resize))
    throw new OptionError(
      `resize must be 'squash', 'center-crop' or 'letterbox', got ${JSON.stringify(resize)}`,
      { input: 'resize' },
    );
  const pixelFormat = options.pixelFormat ?? 'rgb';
  if (!isOneOf(PIXEL_FORMATS, pixelFormat))
    throw new OptionError(`pixelFormat must be 'rgb' or 'nv12', got ${JSON.stringify(pixelFormat)}`, {
      input: 'pixelFormat',
    });
  const fit = resize === 'squash' ? '' : resize === 'center-crop' ? 'increase' : 'decrease';
  const place =
    resize === 'center-crop'
      ? [`crop=${w}:${h}`]
      : resize === 'letterbox'
        ? [`pad=${w}:${h}:(ow-iw)/2:(oh-ih)/2:color=black`]
        : [];
  let chain: string[];
  if (options.path === 'cuda') {
    // NV12 chroma is subsampled: even intermediate sizes keep crop and pad offsets on whole chroma samples.
    const keep = fit ? `:force_original_aspect_ratio=${fit}:force_divisible_by=2` : '';
    // format=nv12 on the GPU: 10-bit (P010) and 4:4:4 surfaces come down as 8-bit 4:2:0 too.
    chain = [
      `scale_cuda=${w}:${h}:interp_algo=bilinear:format=nv12${keep}`,
      'hwdownload',
      'format=nv12',
      ...place,
    ];
    if (pixelFormat === 'rgb') chain.push('format=rgb24');
  } else {
    const keep = fit ? `:force_original_aspect_ratio=${fit}` : '';
    const range = pixelFormat === 'nv12' ? ':out_range=tv' : '';
    chain = [
      `scale=${w}:${h}${keep}:flags=${flags}${range}`,
      ...place,
      pixelFormat === 'nv12' ? 'format=nv12' : 'format=rgb24',
    ];
  }
  // Quoted for the graph parser: the expression's commas are its own, not filter separators.
  const tap = options.select ? ['showinfo=checksum=0', `select='${options.select}'`] : [];
  return [...tap, ...chain, checksums ? 'showinfo' : 'showinfo=checksum=0'].join(',');
}

function escapeGlob(p: string): string {
  return p.replace(/[*?[\]{}\\]/g, '\\$&');
}

/**
 * The files of an image-sequence source (a folder of images, or a glob) in the order ffmpeg reads them,
 * so that frame k of the sequence (pts k at image2's frame rate) is named: glob(3) sorts by strcmp, as
 * ffmpeg sets no locale. undefined for other sources, and for globs this does not mirror (wildcards above
 * the file name, braces): their frames then carry no file.
 */
export async function imageSequence(src: ResolvedSource): Promise<string[] | undefined> {
  if (src.kind === 'file') {
    const st = await stat(src.input).catch(() => undefined);
    if (!st?.isDirectory()) return undefined;
  } else if (src.kind !== 'images') return undefined;
  const pattern = await imagePattern(src.input).catch(() => undefined);
  if (pattern === undefined) return undefined;
  const cut = pattern.lastIndexOf('/');
  const dirGlob = cut < 0 ? '.' : pattern.slice(0, cut) || '/';
  const nameGlob = pattern.slice(cut + 1);
  if (/(^|[^\\])[*?[{]/.test(dirGlob)) return undefined;
  const matches = globRegex(nameGlob);
  if (!matches) return undefined;
  const dir = dirGlob.replace(/\\(.)/g, '$1');
  const names = await readdir(dir).catch(() => [] as string[]);
  return names
    .filter((n) => matches.test(n) && (!n.startsWith('.') || nameGlob.startsWith('.')))
    .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
    .map((n) => (cut < 0 ? n : path.join(dir, n)));
}

/** A glob(3) file-name pattern as a RegExp (`*`, `?`, `[...]`, backslash escapes); undefined for braces. */
export function globRegex(glob: string): RegExp | undefined {
  const literal = (c: string) => c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '\\' && i + 1 < glob.length) re += literal(glob[++i]!);
    else if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '{') return undefined;
    else if (c === '[') {
      const end = glob.indexOf(']', i + 2);
      if (end < 0) {
        re += '\\[';
        continue;
      }
      const body = glob.slice(i + 1, end);
      re += `[${body.startsWith('!') ? `^${body.slice(1)}` : body}]`.replace(/\\/g, '\\\\');
      i = end;
    } else re += literal(c);
  }
  return new RegExp(`^${re}$`, 's');
}

/** Input arguments (everything before and including `-i`) for a source. Checks local paths first, for clearer errors than ffmpeg's. */
export async function inputArgs(src: ResolvedSource, ff: FfmpegHandle): Promise<string[]> {
  const args: string[] = [];
  const timeoutUs = String(Math.round((src.timeoutMs ?? 10_000) * 1000));
  if (src.realtime) args.push('-re');
  if (src.loop) args.push('-stream_loop', '-1');
  switch (src.kind) {
    case 'file': {
      const st = await stat(src.input).catch((err: NodeJS.ErrnoException) => {
        throw new VideoSourceError(
          `video source ${src.input}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`,
          {
            input: src.input,
            cause: err,
          },
        );
      });
      if (st.isDirectory()) return inputArgs({ ...src, kind: 'images' }, ff);
      if (st.size === 0)
        throw new VideoSourceError(`video source ${src.input}: file is empty (0 bytes), expected a video`, {
          input: src.input,
        });
      if (src.format) args.push('-f', src.format);
      break;
    }
    case 'images': {
      const pattern = await imagePattern(src.input);
      args.push('-f', 'image2', '-pattern_type', 'glob', '-framerate', String(src.framerate ?? 25));
      args.push('-protocol_whitelist', 'file', ...(src.inputArgs ?? []), '-i', pattern);
      return args;
    }
    case 'device':
      args.push('-f', src.format ?? 'v4l2');
      if (src.inputFormat) args.push('-input_format', src.inputFormat);
      if (src.videoSize) args.push('-video_size', src.videoSize);
      if (src.framerate) args.push('-framerate', String(src.framerate));
      break;
    case 'url': {
      const scheme = src.input.slice(0, src.input.indexOf(':')).toLowerCase();
      if (scheme === 'rtsp' || scheme === 'rtsps') {
        args.push(
          ...rtspTransportArgs(src.rtspTransport),
          ff.major >= 5 || ff.major === 0 ? '-timeout' : '-stimeout',
          timeoutUs,
        );
      } else if (scheme === 'http' || scheme === 'https') {
        args.push('-rw_timeout', timeoutUs);
        // A playlist that stops growing ends the read after ~3.5 target durations (a reload a target
        // after the last segment, then every half target) instead of ffmpeg's 1000 reloads: the
        // writer stopped, and openSource ends the feed once (it checks the playlist first).
        if (isHlsUrl(src.input, src.format) && (ff.major >= 5 || ff.major === 0))
          args.push('-m3u8_hold_counters', '6');
      }
      if (src.format) args.push('-f', src.format);
      break;
    }
    case 'stdin':
      if (src.format) args.push('-f', src.format);
      break;
  }
  // Before the caller's own input options, so that an operator's -protocol_whitelist still wins.
  const whitelist = protocolWhitelist(src.kind, src.input);
  if (whitelist) args.push('-protocol_whitelist', whitelist);
  args.push(...(src.inputArgs ?? []), '-i', src.kind === 'stdin' ? 'pipe:0' : src.input);
  return args;
}

async function imagePattern(input: string): Promise<string> {
  const asDir = await stat(input).then(
    (s) => s.isDirectory(),
    () => false,
  );
  if (!asDir) return input; // a glob: ffmpeg expands it (glob(3), sorted)
  const names = (await readdir(input)).filter(isImagePath);
  const exts = [...new Set(names.map((n) => path.extname(n).toLowerCase()))];
  if (exts.length === 0)
    throw new VideoSourceError(`video source ${input}: directory holds no images (.jpg, .png, ...)`, {
      input,
    });
  if (exts.length > 1) {
    throw new VideoSourceError(
      `video source ${input}: directory mixes image types (${exts.join(', ')}); give a glob such as ${path.join(input, `*${exts[0]}`)}`,
      {
        input,
      },
    );
  }
  const sample = names.find((n) => path.extname(n).toLowerCase() === exts[0]) ?? '';
  return path.join(escapeGlob(input), `*${path.extname(sample)}`);
}

export interface DecodeArgsOptions {
  size: FrameSize;
  resize: ResizeMode;
  scaleFlags?: string;
  /** Decoder threads (ffmpeg `-threads` before `-i`); default: ffmpeg's choice. */
  threads?: number;
  /** 'cuda': NVDEC decode and GPU scaling; default 'none' (CPU). */
  path?: DecodePath;
  /** Default 'rgb'. */
  pixelFormat?: PixelFormat;
  /** Decode keyframes only (`-skip_frame nokey`): the decoder skips the rest, timestamps stay the stream's. */
  keyframesOnly?: boolean;
  /** Frames kept before scaling (FilterOptions.select). */
  select?: string;
}

/** The full ffmpeg command line for raw frames (RGB24 or NV12) on stdout and showinfo lines on stderr. */
export async function decodeArgs(
  src: ResolvedSource,
  ff: FfmpegHandle,
  opts: DecodeArgsOptions,
): Promise<string[]> {
  const input = await inputArgs(src, ff);
  const pixelFormat = opts.pixelFormat ?? 'rgb';
  return [
    '-hide_banner',
    '-nostats',
    // level prefixes let us tell errors from chatter when explaining a failure.
    '-loglevel',
    'level+info',
    ...(src.kind === 'stdin' ? [] : ['-nostdin']),
    ...(opts.threads ? ['-threads', String(opts.threads)] : []),
    // Decoder options: before -i, so they apply to the input's decoder.
    ...(opts.path === 'cuda' ? ['-hwaccel', 'cuda', '-hwaccel_output_format', 'cuda'] : []),
    ...(opts.keyframesOnly ? ['-skip_frame', 'nokey'] : []),
    ...input,
    '-map',
    '0:v:0',
    '-an',
    '-sn',
    '-dn',
    ...passthroughArgs(ff),
    '-vf',
    scaleFilter(opts.size, opts.resize, opts.scaleFlags, ff.major < 5, {
      path: opts.path,
      pixelFormat,
      select: opts.select,
    }),
    // No frame threads for the rawvideo encoder: it would hand a packet over only when the next frame
    // goes in, which with sampling is the next kept frame (a period late, never when a feed goes
    // quiet). Not `-threads 1`: ffmpeg gives an output's -threads to its filter graph too.
    '-thread_type',
    'slice',
    '-f',
    'rawvideo',
    '-pix_fmt',
    pixelFormat === 'nv12' ? 'nv12' : 'rgb24',
    'pipe:1',
  ];
}
