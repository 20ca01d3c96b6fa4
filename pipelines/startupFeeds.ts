import { stat } from 'node:fs/promises';
import { redactCredentials } from '../src/util/redact.js';
import { detectKind } from '../src/video/source.js';

/** URL schemes a feed given at start-up (command line, config) may use. */
const STARTUP_SCHEMES = new Set([
  'rtsp',
  'rtsps',
  'rtmp',
  'rtmps',
  'http',
  'https',
  'udp',
  'tcp',
  'srt',
  'rtp',
]);

/**
 * Why a start-up feed's input cannot work, before anything is started: a URL of a scheme ffmpeg is not
 * asked to read or that does not parse, or a local file or folder that is not there (a camera device is
 * left to the watchdog: it may be plugged in later). undefined when it may work. The operator typed these,
 * so saying whether a path exists is fine here; the stream API's sources go through the source policy.
 */
export async function feedInputProblem(s: { url?: string; path?: string }): Promise<string | undefined> {
  const input = s.url ?? s.path;
  if (input === undefined) return undefined;
  const field = s.url !== undefined ? 'url' : 'path';
  const shown = redactCredentials(input);
  const kind = detectKind(input);
  if (kind === 'url') {
    const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(input)![1]!.toLowerCase();
    let ok = STARTUP_SCHEMES.has(scheme);
    if (ok) {
      try {
        new URL(input);
      } catch {
        ok = false;
      }
    }
    return ok
      ? undefined
      : `${field} "${shown}": expected an absolute URL with one of the schemes ${[...STARTUP_SCHEMES].join(', ')}`;
  }
  if (kind === 'file') {
    const st = await stat(input).catch(() => undefined);
    if (!st?.isFile() && !st?.isDirectory()) return `${field} "${shown}": no such file on the server`;
  }
  return undefined;
}
