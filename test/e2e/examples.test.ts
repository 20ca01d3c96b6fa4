import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cifarModel, ensureBuilt, repoRoot } from '../helpers/cli.js';
import { sharedPath } from '../helpers/shared.js';

// The examples/ programs, compiled by tsc into dist/examples, run as a user would run them.

const model = cifarModel();
const example = (name: string) => path.join(repoRoot, 'dist/examples', `${name}.js`);

function run(name: string, args: string[], timeoutMs = 60_000) {
  const child = spawn(process.execPath, [example(name), ...args], { cwd: repoRoot });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const exited = new Promise<number | null>((resolve) =>
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve(code);
    }),
  );
  return { child, exited, stdout: () => stdout, stderr: () => stderr };
}

let tmp: string;
beforeAll(() => {
  ensureBuilt();
  tmp = mkdtempSync(path.join(os.tmpdir(), 'vitstream-e2e-examples-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('examples', () => {
  it('classify-folder: every video of a folder to JSONL', async () => {
    // A folder of two clips (links to the shared footage, not copies) and a file that is no video.
    const folder = path.join(tmp, 'clips');
    const clips = ['person_signing_640x480.mkv', 'street_bikes_640x272.mp4'];
    const dir = mkdtempSync(`${folder}-`);
    for (const c of clips) symlinkSync(sharedPath('media', c), path.join(dir, c));
    const out = path.join(tmp, 'folder.jsonl');
    const p = run('classify-folder', [dir, ...model.args, '--fps', '2', '--out', out]);
    expect(await p.exited).toBe(0);
    const lines = readFileSync(out, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { streamId: string });
    // 3.0 s at 30 fps and 10.0 s at 25 fps, sampled at 2 fps on a 0.5 s grid.
    expect(lines.filter((l) => l.streamId === clips[0]).length).toBe(6);
    expect(lines.filter((l) => l.streamId === clips[1]).length).toBe(20);
    expect(p.stdout()).toContain(`${clips[0]}: 6 frames`);
  });

  it('live-to-hub + hub-client: a clip played as live, predictions printed by the client', async () => {
    const clip = sharedPath('media', 'street_bikes_640x272.mp4');
    const hub = run('live-to-hub', [
      clip,
      ...model.args,
      '--realtime',
      '--loop',
      '--port',
      '0',
      '--fps',
      '4',
    ]);
    try {
      const wsUrl = await new Promise<string>((resolve, reject) => {
        const check = () => {
          const m = hub.stderr().match(/websocket (ws:\/\/\S+)/);
          if (m) resolve(m[1]!);
        };
        hub.child.stderr.on('data', check);
        hub.exited.then(() => reject(new Error(`live-to-hub exited:\n${hub.stderr()}`)));
      });
      const client = run('hub-client', [wsUrl, '--count', '4'], 30_000);
      expect(await client.exited).toBe(0);
      const predictions = client
        .stdout()
        .split('\n')
        .filter((l) => l.startsWith(`${clip}  frame `));
      expect(predictions).toHaveLength(4);
      const frames = predictions.map((l) => Number(l.match(/frame (\d+)/)![1]));
      for (let i = 1; i < frames.length; i++) expect(frames[i]).toBeGreaterThan(frames[i - 1]!);
      expect(client.stdout()).toMatch(/^connected to vitstream /);
      hub.child.kill('SIGTERM');
      expect(await hub.exited).toBe(0);
    } finally {
      hub.child.kill('SIGKILL');
    }
  });

  it.each([
    [
      'classify-folder',
      ['/no/such/folder'],
      /^classify-folder: cannot read folder \/no\/such\/folder: ENOENT/,
    ],
    ['classify-folder', ['.', '--fps', '0'], /^classify-folder: --fps: expected a positive number, got "0"/],
    ['hub-client', ['notaurl'], /^hub-client: "notaurl" is not a URL/],
    [
      'live-to-hub',
      ['x.mp4', '--fps', 'fast'],
      /^live-to-hub: --fps: expected a positive number, got "fast"/,
    ],
  ])('%s %j: exit 2 with one line and no stack trace', async (name, args, message) => {
    const r = run(name, args);
    expect(await r.exited).toBe(2);
    expect(r.stderr()).toMatch(message);
    expect(r.stderr()).not.toMatch(/^\s+at /m);
  });
});
