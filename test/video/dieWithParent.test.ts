import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deathGuard } from '../../src/video/spawn.js';
import { cifarModel, ensureBuilt, repoRoot, startCli } from '../helpers/cli.js';
import { TempDir, waitFor } from './media.js';

// Issue #20 item 5: `kill -9` of serve or classify must not leave ffmpeg behind. The feed is a
// server that accepts and never answers, with a long read timeout: ffmpeg writes nothing, so only
// a death signal (not EPIPE on its pipes) can end it when its parent dies.
const tmp = new TempDir();
let server: Server;
let port = 0;
const sockets: Socket[] = [];
let script: string;

beforeAll(async () => {
  ensureBuilt();
  const dist = (p: string) => pathToFileURL(path.join(repoRoot, 'dist', p)).href;
  script = tmp.file('decode-forever.mjs');
  // The child is a library user: decodeFrames as classify runs it, openSource as serve runs a feed.
  writeFileSync(
    script,
    `import { decodeFrames } from '${dist('src/video/decodeFrames.js')}';
import { openSource } from '${dist('pipelines/liveSource.js')}';
const [mode, url] = process.argv.slice(2);
const onEvent = (e) => { if (e.type === 'started') process.stdout.write(JSON.stringify({ pid: e.pid }) + '\\n'); };
const src = { url, timeoutMs: 300000, firstFrameTimeoutMs: 300000 };
const frames = mode === 'serve' ? openSource(src, { size: 16, onEvent }) : decodeFrames(src, { size: 16, onEvent });
frames.subscribe({ error: (e) => { process.stderr.write(String(e) + '\\n'); process.exit(3); } });
`,
  );
  server = createServer((s) => sockets.push(s));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as { port: number }).port;
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise((resolve) => server.close(resolve));
  tmp.dispose();
});

/** A process that still runs: /proc has it and it is not a zombie (PID 1 may never reap it here). */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** Running ffmpegs whose command line names `marker` (pgrep -f, without its own matches). */
function ffmpegsNaming(marker: string): number[] {
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const argv = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
      if (
        path.basename(argv[0]) === 'ffmpeg' &&
        argv.some((a) => a.includes(marker)) &&
        running(Number(name))
      )
        found.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stderr?.on('data', (d) => {
      err += d;
    });
    child.stdout?.on('data', (d) => {
      out += d;
      if (out.includes('\n')) resolve(out.slice(0, out.indexOf('\n')));
    });
    child.once('exit', (code) =>
      reject(new Error(`child exited with ${code} before starting ffmpeg: ${err}`)),
    );
  });
}

describe.runIf(process.platform === 'linux')('ffmpeg dies with its parent (kill -9)', () => {
  it('finds util-linux setpriv with --pdeathsig here, and nothing on an empty PATH', () => {
    expect(existsSync('/usr/bin/setpriv')).toBe(true);
    expect(deathGuard()).toEqual([expect.stringMatching(/setpriv$/), '--pdeathsig', 'KILL', '--']);
    expect(deathGuard('/nonexistent-dir')).toEqual([]);
  });

  for (const mode of ['classify', 'serve'] as const) {
    it(`${mode}: a silent feed's ffmpeg is gone once its Node parent is SIGKILLed`, async () => {
      const marker = `pdeathsig-${mode}-${process.pid}`;
      // A media file name makes the URL a file to classify; without one it is a live feed.
      const url = `http://127.0.0.1:${port}/${marker}${mode === 'classify' ? '.mp4' : ''}`;
      const connectedBefore = sockets.length;
      const child = spawn(process.execPath, [script, mode, url], { stdio: ['ignore', 'pipe', 'pipe'] });
      const exited = new Promise((resolve) => child.once('exit', resolve));
      let pid = 0;
      try {
        pid = (JSON.parse(await firstLine(child)) as { pid: number }).pid;
        // ffmpeg (not setpriv any more) is up and waiting on the silent server.
        expect(
          await waitFor(
            () => sockets.length > connectedBefore && ffmpegsNaming(marker).includes(pid),
            60_000,
          ),
        ).toBe(true);
        child.kill('SIGKILL');
        await exited;
        expect(await waitFor(() => !running(pid), 30_000)).toBe(true);
        expect(ffmpegsNaming(marker)).toEqual([]);
      } finally {
        child.kill('SIGKILL');
        for (const left of ffmpegsNaming(marker)) process.kill(left, 'SIGKILL');
      }
    }, 120_000);
  }

  // The same through the CLI itself: `kill -9` of a running classify or serve.
  for (const command of ['classify', 'serve'] as const) {
    it(`vitstream ${command}: kill -9 leaves no ffmpeg behind`, async () => {
      const marker = `pdeathsig-cli-${command}-${process.pid}`;
      const url = `http://127.0.0.1:${port}/${marker}${command === 'classify' ? '.mp4' : ''}`;
      // serve's feed gets long timeouts through a config file: with the default 10 s read timeout
      // ffmpeg would end on its own and the test would prove nothing.
      const config = tmp.file(`${marker}.json`);
      writeFileSync(
        config,
        JSON.stringify({ streams: [{ url, timeoutMs: 300_000, firstFrameTimeoutMs: 300_000 }] }),
      );
      const args = command === 'classify' ? ['classify', url] : ['serve', '--config', config, '--port', '0'];
      const cli = startCli([...args, ...cifarModel().args]);
      try {
        const up = await waitFor(
          () => ffmpegsNaming(marker).length === 1 || cli.child.exitCode !== null,
          90_000,
        );
        expect(up && cli.child.exitCode === null, cli.stderr()).toBe(true);
        const [pid] = ffmpegsNaming(marker);
        cli.kill();
        await cli.exited;
        expect(await waitFor(() => !running(pid as number), 30_000)).toBe(true);
        expect(ffmpegsNaming(marker)).toEqual([]);
      } finally {
        cli.kill();
        for (const left of ffmpegsNaming(marker)) process.kill(left, 'SIGKILL');
      }
    }, 180_000);
  }
});
