import { spawn } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import { cifarModel, cliPath, ensureBuilt, runCli } from '../helpers/cli.js';
import { sharedPath } from '../helpers/shared.js';

// Dawn prints "maxDynamic… artificially reduced" from native code when it enumerates adapters: on
// every engine command before. The CLI filters those exact lines out of its stderr when that is a
// terminal or a pipe; the CLI runs here behind a shell pipe, as `vitstream … 2>&1 | less` would.
const DAWN_NOISE = /artificially reduced/;
beforeAll(ensureBuilt);

/** stdout and stderr of the CLI together, through a shell pipe. */
function piped(args: string[], env = process.env): Promise<{ code: number | null; text: string }> {
  const child = spawn('sh', ['-c', '"$0" "$@" 2>&1 | cat', process.execPath, cliPath, ...args], { env });
  let text = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (text += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (text += s));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, text })));
}

describe('Dawn limit warnings', () => {
  it('vitstream info and classify print none', async () => {
    const info = await piped(['info']);
    expect(info.text).toMatch(/^adapter:/m);
    expect(info.text).not.toMatch(DAWN_NOISE);
    const clip = sharedPath('media', 'person_signing_640x480.mkv');
    const classify = await piped(['classify', clip, ...cifarModel().args, '--every', '30']);
    expect(classify.text).toMatch(/"streamId"/);
    expect(classify.text).not.toMatch(DAWN_NOISE);
  });

  it('VITSTREAM_QUIET_DAWN=0 shows them', async () => {
    const r = await piped(['info'], { ...process.env, VITSTREAM_QUIET_DAWN: '0' });
    expect(r.text).toMatch(DAWN_NOISE);
  });

  it('a stderr that is a socket (a Node parent) is left alone: info still works', async () => {
    const r = await runCli(['info']);
    expect(r.code, r.stderr).toBe(0);
  });
});
