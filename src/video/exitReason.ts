import { classifyFailure } from './stderrLog.js';

/** What is known when ffmpeg has exited. */
export interface ExitFacts {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Frames decoded before the exit. */
  decoded: number;
  /** StderrLog.problems(): ffmpeg's most telling lines. */
  problems: string[];
  /** StderrLog.decodeErrors: error lines after the first frame. */
  decodeErrors: string[];
  /** Image sequences: the files that gave no frame, and how many there were. */
  images?: { missing: string[]; total: number };
  /** Fail a clean exit that skipped images or hit decode errors (default true); never for live or looped sources. */
  strict: boolean;
  live: boolean;
  loop: boolean;
}

/**
 * Why an ffmpeg run failed, as one phrase for "video source X: <reason>", or undefined when it
 * succeeded. A clean exit still fails when nothing decoded or, if strict, when a file skipped
 * images or hit corrupt data (ffmpeg exits 0 after concealing errors).
 */
export function exitFailure(f: ExitFacts): string | undefined {
  const explain = (fallback: string) => {
    const reason = classifyFailure(f.problems) ?? fallback;
    return f.problems.length > 0 ? `${reason} (ffmpeg: ${f.problems.join(' | ')})` : reason;
  };
  if (f.code !== 0) {
    const how = f.signal ? `ffmpeg was killed by ${f.signal}` : `ffmpeg exited with code ${f.code}`;
    return f.decoded > 0 ? `stopped after ${f.decoded} frames: ${explain(how)}` : explain(how);
  }
  if (f.decoded === 0) return explain('no video frames could be decoded');
  const missing = f.images?.missing ?? [];
  if (f.strict && !f.loop && missing.length > 0) {
    const named =
      missing.slice(0, 5).join(', ') + (missing.length > 5 ? ` and ${missing.length - 5} more` : '');
    return `${missing.length} of ${f.images?.total} images could not be decoded: ${named}`;
  }
  if (f.strict && !f.live && f.decodeErrors.length > 0) {
    const errs = f.decodeErrors.slice(-3).map((l) => l.replace(/^.*\[(error|fatal)\] /, ''));
    const what = /ended prematurely|partial file|truncat/i.test(errs.join(' '))
      ? 'truncated data'
      : 'corrupt data';
    return `decoded ${f.decoded} frames, then hit ${what} (ffmpeg: ${errs.join(' | ')})`;
  }
  return undefined;
}
