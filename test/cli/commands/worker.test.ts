import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureBuilt, repoRoot } from '../../helpers/cli.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'vitstream-supervise-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('worker --gpu all (one child worker per GPU)', () => {
  it('a stop during the restart pause of a worker that died starts no new worker', () => {
    ensureBuilt();
    // A stand-in GPU worker: each start leaves a line, then it dies at once.
    const starts = path.join(tmp, 'starts');
    writeFileSync(starts, '');
    const child = path.join(tmp, 'child.mjs');
    writeFileSync(
      child,
      `import { appendFileSync } from 'node:fs'; appendFileSync(${JSON.stringify(starts)}, 'start\\n');`,
    );
    // The supervisor in a process of its own; the first death it logs is answered by SIGTERM, as a
    // service manager stopping it then would.
    const driver = path.join(tmp, 'driver.mjs');
    writeFileSync(
      driver,
      `import { superviseChildren } from ${JSON.stringify(path.join(repoRoot, 'dist/src/cli/commands/worker.js'))};
process.argv = [process.execPath, ${JSON.stringify(child)}, 'worker', '--gpu', 'all'];
let told = false;
const log = { error: () => { if (!told) { told = true; process.kill(process.pid, 'SIGTERM'); } }, warn() {}, info() {} };
const gpu = (index) => ({ index, slot: '0000:0' + index + ':00.0', vendor: '0x10de', device: '0x2330' });
await superviseChildren([gpu(0)], log);`,
    );
    execFileSync(process.execPath, [driver], { stdio: 'ignore' });
    // One GPU, so no other child is being started (or killed while starting) when the stop comes.
    expect(readFileSync(starts, 'utf8').split('\n').filter(Boolean)).toHaveLength(1);
  });
});
