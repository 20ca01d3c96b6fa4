import type { FrameColor } from './frame.js';

/**
 * Where showinfo's per-frame lines go; `key` is the line's own integer pts (or 'NOPTS') and the
 * frame's byte position in the input: frames that share a pts (a restart in a millisecond time
 * base) still differ by position.
 */
export interface ShowinfoHandlers {
  /** A frame of the output (the last showinfo). */
  onPts(ptsMs: number | undefined, key: string): void;
  /** A decoded frame at the tap before a select (`Parsed_showinfo_0`); without it, there is no tap. */
  onDecoded?(ptsMs: number | undefined, key: string): void;
}
const MUXER_DTS = /non monotonically increasing dts to muxer/;

/**
 * Reads ffmpeg's stderr (run with `-loglevel level+info` and a trailing `showinfo` filter): turns
 * showinfo's per-frame lines into presentation times, and keeps a short tail of everything else to
 * explain failures. Lines end in \n or \r (progress lines use \r).
 */
export class StderrLog {
  /** Error-level lines ([error]/[fatal]) seen after the first frame: decoding trouble in a file that still exits 0. */
  readonly decodeErrors: string[] = [];
  private readonly tail: string[] = [];
  private partial = '';
  private timeBase: [number, number] | undefined;
  private framesSeen = 0;
  private inputStream: string | undefined;
  private color: FrameColor | undefined;

  constructor(
    private readonly handlers: ShowinfoHandlers,
    private readonly tailLines = 40,
  ) {}

  write(chunk: string): void {
    const text = this.partial + chunk;
    let start = 0;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === 10 || c === 13) {
        if (i > start) this.line(text.slice(start, i));
        start = i + 1;
      }
    }
    this.partial = text.slice(start);
  }

  end(): void {
    if (this.partial) this.line(this.partial);
    this.partial = '';
  }

  private line(line: string): void {
    if (line.startsWith('[Parsed_showinfo')) {
      const n = line.indexOf('] n:');
      if (n >= 0) {
        const fields = line.slice(n);
        const pts = / pts:\s*(-?\d+|NOPTS)/.exec(fields)?.[1] ?? 'NOPTS';
        const key = `${pts} ${/ pos:\s*(-?\d+)/.exec(fields)?.[1] ?? ''}`;
        // The tap before a select is the graph's first filter; every other showinfo is the output's.
        if (this.handlers.onDecoded && line.startsWith('[Parsed_showinfo_0 '))
          this.handlers.onDecoded(this.ptsMs(pts), key);
        else {
          this.framesSeen++;
          this.handlers.onPts(this.ptsMs(pts), key);
        }
        return;
      }
      const tb = /config in time_base: (\d+)\/(\d+)/.exec(line);
      if (tb) this.timeBase = [Number(tb[1]), Number(tb[2])];
      return; // side data and colour lines are noise
    }
    // The first "Stream #0:N...: Video:" line describes the input (outputs are listed after it).
    if (this.inputStream === undefined && /Stream #0:\d+.*: Video: /.test(line)) this.inputStream = line;
    // The rawvideo muxer logs frames that share a pts as an error, and writes them all the same.
    if (this.framesSeen > 0 && /\[(error|fatal)\]/.test(line) && !MUXER_DTS.test(line)) {
      this.decodeErrors.push(line);
      if (this.decodeErrors.length > 20) this.decodeErrors.shift();
    }
    this.tail.push(line);
    if (this.tail.length > this.tailLines) this.tail.shift();
  }

  // The integer pts times the time base is exact; showinfo's pts_time is printed with 6 significant digits only.
  private ptsMs(pts: string): number | undefined {
    if (pts === 'NOPTS' || !this.timeBase || this.timeBase[1] === 0) return undefined;
    return (Number(pts) * this.timeBase[0] * 1000) / this.timeBase[1];
  }

  /** The input video stream's colour description, once ffmpeg has printed it (before any frame). */
  get inputColor(): FrameColor | undefined {
    if (this.color === undefined && this.inputStream !== undefined)
      this.color = streamColor(this.inputStream);
    return this.color;
  }

  get frames(): number {
    return this.framesSeen;
  }

  /** The most telling lines: errors and warnings, with ffmpeg's context prefixes stripped. */
  problems(max = 4): string[] {
    const picked = this.tail.filter((l) => /\[(fatal|error|warning)\]/.test(l) || !l.startsWith('['));
    const useful = picked.filter(
      (l) => !/^\s*$/.test(l) && !/Conversion failed!|Exiting normally|^\s*To ignore this/.test(l),
    );
    return useful.slice(-max).map(stripPrefix);
  }

  lastLines(max = 6): string[] {
    return this.tail.slice(-max).map(stripPrefix);
  }
}

/**
 * The colour of a stream from ffmpeg's description of it, e.g. "Video: h264 (High), yuv420p(tv,
 * bt709, progressive), 1920x1080" (the fields ffprobe calls color_range and color_space): bt709 is
 * BT.709, anything else (bt470bg, smpte170m, unknown) BT.601; pc or a yuvj format is full range, else
 * limited.
 */
export function streamColor(line: string): FrameColor {
  const video = line.slice(line.indexOf('Video: '));
  // The pixel format is the first word glued to its parenthesis ("yuv420p(tv, ..."); codec profiles
  // have a space before theirs ("h264 (High)").
  const m = /, ([a-z0-9_]+)(?:\(([^)]*)\))?,/.exec(video);
  const pixFmt = m?.[1] ?? '';
  const fields = (m?.[2] ?? '').split(',').map((f) => f.trim());
  const space = fields.find((f) => /^(bt|smpte|fcc|ycgco|gbr|unknown|reserved|chroma)/.test(f)) ?? '';
  return {
    matrix: space.split('/')[0] === 'bt709' ? 'bt709' : 'bt601',
    range: fields.includes('pc') || pixFmt.startsWith('yuvj') ? 'full' : 'limited',
  };
}

export function stripPrefix(line: string): string {
  return line
    .replace(/^(\[[^\]]*@ 0x[0-9a-f]+\] )?(\[(info|warning|error|fatal|verbose|debug)\] )?/, '')
    .trim();
}

/** A one-phrase reason for ffmpeg's failure, from its messages; undefined when none is recognised. */
export function classifyFailure(lines: string[]): string | undefined {
  const text = lines.join('\n');
  const rules: [RegExp, string][] = [
    // image2 with -pattern_type glob says this when the glob matches nothing.
    [/Could not open file : [^\n]*[*?[]/, 'no file matches this glob'],
    [
      /matches no streams|does not contain any stream|no video stream/i,
      'has no video stream (audio-only or data-only input)',
    ],
    [
      /Decoder \(codec [^)]*\) not found|unknown codec|Unsupported codec|Failed to open codec|Decoding requested, but no decoder/i,
      'uses a codec this ffmpeg cannot decode',
    ],
    [/No such file or directory/i, 'no such file'],
    [/Connection refused/i, 'unreachable: connection refused'],
    [/Connection timed out|Operation timed out|timed out/i, 'unreachable: timed out'],
    [
      /Failed to resolve hostname|Name or service not known|Temporary failure in name resolution/i,
      'unreachable: host name does not resolve',
    ],
    [/Server returned (\d{3}[^\n]*)/i, 'server refused the request'],
    [/Network is unreachable|No route to host/i, 'unreachable: no route to host'],
    [/Permission denied/i, 'permission denied'],
    [/moov atom not found/i, 'not a complete MP4/MOV (moov atom not found): truncated or not a video'],
    [/Invalid data found when processing input/i, 'not a recognisable video (invalid data)'],
    [/partial file|File ended prematurely|Truncat|premature|end of file/i, 'truncated'],
    [/corrupt|error while decoding|Invalid NAL|concealing/i, 'corrupt data'],
  ];
  for (const [re, reason] of rules) if (re.test(text)) return reason;
  return undefined;
}
