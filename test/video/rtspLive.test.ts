import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { firstValueFrom, take, timeout, toArray } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeFrames } from '../../src/video/decodeFrames.js';
import type { RtspTransport } from '../../src/video/rtspTransport.js';

// Issue #25 item 6 against a real RTSP server on 127.0.0.1 (GStreamer's gst-rtsp-server through
// python3-gi: see rtspServer.py; .ci/install-system.sh installs it). Skipped where it is missing.
const python = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const script = path.join(import.meta.dirname, 'rtspServer.py');
const probe = spawnSync(
  python,
  ['-c', "import gi; gi.require_version('GstRtsp', '1.0'); gi.require_version('GstRtspServer', '1.0')"],
  { stdio: 'ignore' },
);
const haveServer = probe.status === 0;
const servers: ChildProcess[] = [];

/** Starts the server offering only `offers`; resolves with its URL once it listens. */
function startServer(offers: 'tcp' | 'udp'): Promise<string> {
  const proc = spawn(python, [script, offers], { stdio: ['pipe', 'pipe', 'ignore'] });
  servers.push(proc);
  return new Promise((resolve, reject) => {
    let out = '';
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /ready (\d+)/.exec(out);
      if (m) resolve(`rtsp://127.0.0.1:${m[1]}/cam`);
    });
    proc.once('exit', (code) => reject(new Error(`rtspServer.py exited with ${code}: ${out}`)));
  });
}

afterEach(() => {
  for (const s of servers.splice(0)) s.kill('SIGKILL');
});

const frames = (url: string, rtspTransport?: RtspTransport) =>
  firstValueFrom(
    decodeFrames({ url, rtspTransport, timeoutMs: 5000 }, { size: 16 }).pipe(
      take(3),
      toArray(),
      timeout({ first: 60_000 }),
    ),
  );

describe.skipIf(!haveServer)('RTSP transport against gst-rtsp-server', () => {
  it('a server that offers only TCP: frames over the default transport', async () => {
    const url = await startServer('tcp');
    expect(await frames(url)).toHaveLength(3);
  }, 90_000);

  it('a server that offers only UDP: frames with rtspTransport udp', async () => {
    const url = await startServer('udp');
    expect(await frames(url, 'udp')).toHaveLength(3);
  }, 90_000);

  it('a server that offers only UDP, read over TCP: one line that says to try udp', async () => {
    const url = await startServer('udp');
    await expect(frames(url)).rejects.toThrow(
      /video source rtsp:\/\/127\.0\.0\.1:\d+\/cam: .*the server may only offer RTSP over UDP: try rtspTransport: udp/,
    );
  }, 90_000);
});
