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
  stop(): Promise<void>;
}

/**
 * nats-server with JetStream on loopback, a random port (-p -1) and its store in a temp dir. Ready
 * when its log names the port and a client has connected: no sleeping.
 */
export async function startNatsServer(timeoutMs = 20_000): Promise<NatsServer> {
  const store = mkdtempSync(path.join(os.tmpdir(), 'vitstream-nats-'));
  const child: ChildProcess = spawn('nats-server', ['-js', '-a', '127.0.0.1', '-p', '-1', '-sd', store], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
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
  const url = `nats://127.0.0.1:${port}`;
  const probe = await connect({ servers: url, timeout: timeoutMs });
  await probe.close();
  return {
    url,
    connect: () => connect({ servers: url }),
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGKILL');
        await exited;
      }
      rmSync(store, { recursive: true, force: true });
    },
  };
}
