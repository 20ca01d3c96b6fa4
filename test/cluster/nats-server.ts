import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';

/** Debian's nats-server on PATH (CI installs it); tests are skipped as skipped without it. */
export const hasNatsServer = spawnSync('nats-server', ['--version'], { encoding: 'utf8' }).status === 0;

export interface NatsServer {
  url: string;
  connect(): Promise<NatsConnection>;
  /** SIGKILL, then the same port and store again (a crash and restart); resolves when it accepts clients. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * nats-server with JetStream on loopback, a random port (-p -1) and its store in a temp dir. Ready
 * when its log names the port and a client has connected: no sleeping.
 */
export async function startNatsServer(
  timeoutMs = 20_000,
  o: { jetstream?: boolean } = {},
): Promise<NatsServer> {
  const store = mkdtempSync(path.join(os.tmpdir(), 'vitstream-nats-'));
  const jetstream = o.jetstream ?? true;
  let { child, port } = await launch(store, -1, timeoutMs, jetstream);
  const url = `nats://127.0.0.1:${port}`;
  const kill = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    }
  };
  return {
    url,
    connect: () => connect({ servers: url }),
    async restart() {
      await kill();
      ({ child, port } = await launch(store, port, timeoutMs, jetstream));
    },
    async stop() {
      await kill();
      rmSync(store, { recursive: true, force: true });
    },
  };
}

async function launch(
  store: string,
  wantPort: number,
  timeoutMs: number,
  jetstream: boolean,
): Promise<{ child: ChildProcess; port: number }> {
  const child: ChildProcess = spawn(
    'nats-server',
    [...(jetstream ? ['-js'] : []), '-a', '127.0.0.1', '-p', String(wantPort), '-sd', store],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let log = '';
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`nats-server not listening after ${timeoutMs} ms:\n${log}`)),
      timeoutMs,
    );
    const onData = (d: Buffer) => {
      log += d.toString();
      const m = log.match(/Listening for client connections on [\d.]+:(\d+)/);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`nats-server exited (${code}):\n${log}`));
    });
  });
  const probe = await connect({ servers: `nats://127.0.0.1:${port}`, timeout: timeoutMs });
  await probe.close();
  return { child, port };
}
