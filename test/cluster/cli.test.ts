import net from 'node:net';
import { describe, expect, it } from 'vitest';
import {
  chooseGpus,
  listPciGpus,
  type PciGpu,
  pinEnvironment,
  requirePinning,
} from '../../src/cluster/gpus.js';
import { cifarModel, ensureBuilt, runCli } from '../helpers/cli.js';
import { hasNatsServer, startNatsServer } from './nats-server.js';

const model = cifarModel();
const card = (index: number): PciGpu => ({
  index,
  slot: `0000:${(0x18 + index).toString(16)}:00.0`,
  vendor: '0x10de',
  device: '0x2330',
});

describe('--gpu N|all', () => {
  it('several GPUs: all means one process per card, N pins card N by its PCI path', () => {
    const gpus = [card(0), card(1)];
    expect(chooseGpus('all', gpus)).toEqual({ kind: 'each', gpus });
    expect(chooseGpus('1', gpus)).toEqual({ kind: 'one', gpu: gpus[1] });
    expect(pinEnvironment(gpus[1]!)).toMatchObject({
      DRI_PRIME: 'pci-0000_19_00_0',
      MESA_VK_DEVICE_SELECT_FORCE_DEFAULT_DEVICE: '1',
    });
  });
  it('one adapter (or none on PCI): all and 0 mean the default adapter; 1 is an error naming what exists', () => {
    for (const gpus of [[], [card(0)]]) {
      expect(chooseGpus('all', gpus)).toEqual({ kind: 'default' });
      expect(chooseGpus('0', gpus)).toEqual({ kind: 'default' });
      expect(() => chooseGpus('1', gpus)).toThrow(/--gpu 1: this machine has (one adapter|1 GPU)/);
    }
    expect(() => chooseGpus('x', [])).toThrow(/--gpu: expected a GPU index or "all"/);
  });
  it("refuses to pin one of several GPUs without Mesa's device-select layer (every worker would run on GPU 0)", () => {
    const gpus = [card(0), card(1)];
    expect(() => requirePinning(chooseGpus('1', gpus), null)).toThrow(/device-select layer/);
    expect(() =>
      requirePinning(chooseGpus('all', gpus), '/usr/share/vulkan/implicit_layer.d/x.json'),
    ).not.toThrow();
    expect(() => requirePinning(chooseGpus('all', [card(0)]), null)).not.toThrow();
  });
  it('reads no GPU from a sysfs that is not there', () => {
    expect(listPciGpus('/nonexistent')).toEqual([]);
  });
});

describe('vitstream worker: bad flags fail in one line before anything starts', () => {
  it.each([
    [['--gpu', '1'], /--gpu 1: this machine has/],
    [['--ack-wait', '0'], /--ack-wait: expected seconds/],
    [['--max-deliver', 'x'], /--max-deliver: expected a positive integer/],
    [['--id', 'a.b'], /--id: expected 1-64 letters/],
  ])('%j', async (flags, message) => {
    ensureBuilt();
    // No server at this address: the flags are refused before any connection is tried.
    const r = await runCli([
      'worker',
      '--nats',
      'nats://127.0.0.1:9',
      '--backend',
      'cpu',
      ...model.args,
      ...flags,
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
  it('serve --nats with local feeds is refused: the cluster runs the feeds', async () => {
    ensureBuilt();
    const r = await runCli(['serve', '--nats', 'nats://127.0.0.1:9', 'rtsp://cam/1']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^vitstream: --nats: serve shows the cluster's feeds and runs none itself/);
  });
  it('an unreachable server is one line naming it', async () => {
    ensureBuilt();
    const r = await runCli(['results', 'j1', '--nats', 'nats://127.0.0.1:9']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^vitstream: --nats nats:\/\/127\.0\.0\.1:9: cannot connect/);
  });
  it.skipIf(!hasNatsServer)(
    'a worker whose --metrics-port is taken: one line naming it, exit 2',
    async () => {
      ensureBuilt();
      const taken = net.createServer();
      await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
      const port = (taken.address() as net.AddressInfo).port;
      const server = await startNatsServer();
      try {
        const r = await runCli([
          ...['worker', '--nats', server.url, '--backend', 'cpu', ...model.args],
          ...['--metrics-host', '127.0.0.1', '--metrics-port', String(port)],
        ]);
        expect(r.code).toBe(2);
        expect(r.stderr).toContain(
          `vitstream: --metrics-port: cannot listen on 127.0.0.1:${port}: EADDRINUSE\n`,
        );
        expect(r.stderr).not.toMatch(/\n\s+at /);
      } finally {
        await server.stop();
        taken.close();
      }
    },
  );
  it.skipIf(!hasNatsServer)(
    'a server without JetStream is one line naming it, for every cluster command',
    async () => {
      ensureBuilt();
      const server = await startNatsServer(20_000, { jetstream: false });
      try {
        for (const args of [
          ['results', 'j1'],
          ['feeds', 'list'],
          ['submit', import.meta.filename],
        ]) {
          const r = await runCli([...args, '--nats', server.url]);
          expect(r.code, args.join(' ')).toBe(2);
          expect(r.stderr).toBe(
            `vitstream: --nats ${server.url}: JetStream is not enabled on this server (start nats-server with -js)\n`,
          );
        }
      } finally {
        await server.stop();
      }
    },
  );
});
