import type { Readable } from 'node:stream';
import { VideoSourceError } from '../errors.js';

export type SourceKind = 'file' | 'device' | 'url' | 'stdin' | 'images';

/**
 * Where frames come from. Give `url` or `path` (they mean the same: one string ffmpeg can open),
 * or `stream` for a Node readable piped into ffmpeg's stdin.
 */
export interface VideoSource {
  /** Stream id carried by every frame; defaults to the path or URL. */
  id?: string;
  url?: string;
  path?: string;
  stream?: Readable;
  /** Detected from the string when absent: `/dev/video*` device, `scheme://` URL, `-` stdin, a glob or directory of images, else a file. */
  kind?: SourceKind;
  /** Read a file at its own frame rate (ffmpeg `-re`), as if it were a camera. */
  realtime?: boolean;
  /** Play a file again from the start when it ends (ffmpeg `-stream_loop -1`). */
  loop?: boolean;
  /**
   * Live sources run at their own rate: frames are dropped rather than delayed, and a failure or an
   * unexpected end is retried with backoff. Defaults: devices, rtsp/rtmp/udp/srt/tcp URLs, http(s) URLs
   * that do not name a media file, and realtime files are live; files, stdin and images are not.
   */
  live?: boolean;
  /** ffmpeg demuxer to force (`-f`), e.g. 'mjpeg', 'v4l2', 'mpjpeg'. */
  format?: string;
  /** Image sequences: frames per second assigned to the images (default 25). */
  framerate?: number;
  /** Devices: capture size (e.g. '640x480') and input pixel format/codec (e.g. 'mjpeg'). */
  videoSize?: string;
  inputFormat?: string;
  /** Network read timeout: a silent feed for this long counts as failed (default 10 s). */
  timeoutMs?: number;
  /** Live sources: stall watchdog limits overriding the pipeline's (see openSource; 0 disables). */
  firstFrameTimeoutMs?: number;
  noFrameTimeoutMs?: number;
  /** Extra input options placed before `-i`, for anything not covered here. */
  inputArgs?: string[];
}

/** A source with its kind, id, input string and live flag settled. */
export interface ResolvedSource extends VideoSource {
  id: string;
  kind: SourceKind;
  input: string;
  live: boolean;
}

const MEDIA_FILE_EXT = /\.(mp4|m4v|mov|mkv|webm|avi|flv|ts|mpg|mpeg|wmv|ogv|3gp)$/i;
const IMAGE_EXT = /\.(jpe?g|png|bmp|webp|tiff?|gif|ppm|pgm)$/i;

export function detectKind(input: string): SourceKind {
  if (input === '-' || input === 'pipe:0' || input === 'pipe:') return 'stdin';
  if (/^\/dev\/video\d+$/.test(input)) return 'device';
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(input)) return 'url';
  if (/[*?[]/.test(input)) return 'images';
  if (input.endsWith('/')) return 'images';
  return 'file';
}

function defaultLive(kind: SourceKind, input: string, realtime: boolean): boolean {
  if (kind === 'device') return true;
  if (kind === 'url') {
    if (/^https?:/i.test(input)) {
      const pathname = input.replace(/[?#].*$/, '');
      return !MEDIA_FILE_EXT.test(pathname);
    }
    return !/^file:/i.test(input);
  }
  return kind === 'file' && realtime;
}

/** Settles kind, id and live-ness. A directory given without a trailing slash is found by the caller (see `openSource`). */
export function resolveSource(source: VideoSource | string, index = 0): ResolvedSource {
  const s: VideoSource = typeof source === 'string' ? { path: source } : source;
  const input = s.stream ? 'pipe:0' : (s.url ?? s.path);
  if (input === undefined || input === '') {
    throw new VideoSourceError(`video source #${index} has no url, path or stream: ${JSON.stringify(s)}`, {
      input: `#${index}`,
    });
  }
  const kind = s.kind ?? (s.stream ? 'stdin' : detectKind(input));
  return {
    ...s,
    id: s.id ?? (s.stream ? `stream${index}` : input),
    kind,
    input,
    live: s.live ?? defaultLive(kind, input, s.realtime === true),
  };
}

export function isImagePath(p: string): boolean {
  return IMAGE_EXT.test(p);
}
