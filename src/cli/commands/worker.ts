import { spawn } from 'node:child_process';
import os from 'node:os';
import type { Command } from 'commander';
import { closeNats, connectNats, redact } from '../../cluster/connect.js';
import { chooseGpus, listPciGpus, type PciGpu, pinEnvironment, requirePinning } from '../../cluster/gpus.js';
import { createWorkerMetrics, serveMetrics } from '../../cluster/metrics.js';
import { checkToken } from '../../cluster/subjects.js';
import { startWorker } from '../../cluster/worker.js';
import { listAdapters } from '../../engine/gpu.js';
import { ClusterError, InputError, VitstreamError } from '../../errors.js';
import { createLogger, type Logger } from '../../util/logger.js';
import { addEngineOptions, type EngineFlags, openEngineFromFlags } from '../engine-options.js';
import { addNatsOptions, type NatsFlags, natsOptions } from '../nats-options.js';
import { parseNonNegativeInt, parsePositiveInt } from '../options.js';

interface WorkerFlags extends EngineFlags, NatsFlags {
  gpu?: string;
  id?: string;
  files: string;
  feeds: string;
  ackWait: string;
  maxDeliver: string;
  heartbeat: string;
  leaseTtl: string;
  metricsPort?: string;
  metricsHost: string;
}

export function registerWorker(program: Command): void {
  const cmd = program
    .command('worker')
    .description('serve the cluster: pull file jobs and take live feeds from NATS, one engine per GPU')
    .option(
      '--gpu <n|all>',
      'GPU index (PCI order), or "all": one worker process per GPU (default: the default adapter)',
    )
    .option('--id <id>', 'worker id (default: host-pid)')
    .option('--files <n>', 'files classified at once by this engine', '1')
    .option('--feeds <n>', 'live feeds this engine takes at most (0: none)', '4')
    .option('--ack-wait <s>', 'seconds without news before a file is given to another worker', '60')
    .option('--max-deliver <n>', 'attempts before a file goes to the dead letter', '3')
    .option('--heartbeat <s>', 'seconds between heartbeats', '2')
    .option('--metrics-port <n>', 'serve Prometheus /metrics on this port (0: any free one; default: none)')
    .option('--metrics-host <addr>', 'interface for /metrics', '127.0.0.1')
    .option('--lease-ttl <s>', 'seconds a dead worker keeps its feeds (take-over within 4/3 of it)', '10');
  addNatsOptions(addEngineOptions(cmd)).action(async (f: WorkerFlags) => {
    // Every flag is checked before anything starts: a typo fails now, in one line.
    const ms = (text: string, what: string) => {
      const s = Number(text);
      if (!(s > 0) || s > 86_400)
        throw new InputError(`${what}: expected seconds between 0 and 86400, got "${text}"`, { input: what });
      return Math.round(s * 1000);
    };
    const ackWaitMs = ms(f.ackWait, '--ack-wait');
    const heartbeatMs = ms(f.heartbeat, '--heartbeat');
    const leaseTtlMs = ms(f.leaseTtl, '--lease-ttl');
    const files = parsePositiveInt(f.files, '--files');
    const feeds = parseNonNegativeInt(f.feeds, '--feeds');
    const maxDeliver = parsePositiveInt(f.maxDeliver, '--max-deliver');
    const metricsPort =
      f.metricsPort === undefined ? undefined : parseNonNegativeInt(f.metricsPort, '--metrics-port');
    const gpus = f.backend === 'cpu' ? [] : listPciGpus();
    const choice = chooseGpus(f.gpu, gpus);
    requirePinning(choice);
    const logLevel = (program.opts().logLevel as string | undefined) ?? 'info';
    const logger = createLogger('vitstream worker', logLevel);
    const baseId = checkToken(
      f.id ?? `${os.hostname()}-${process.pid}`.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 56),
      '--id',
    );
    if (choice.kind === 'each') return superviseChildren(choice.gpus, logger);

    let gpu = 'default';
    if (choice.kind === 'one') {
      // Before the first Dawn instance exists: the Vulkan loader reads these when it starts.
      Object.assign(process.env, pinEnvironment(choice.gpu));
      for (const [k, v] of Object.entries(pinEnvironment(choice.gpu)))
        if (v === undefined) delete process.env[k];
      gpu = `${choice.gpu.index} (${choice.gpu.slot})`;
    }
    const id = choice.kind === 'one' && !f.id ? `${baseId}-gpu${choice.gpu.index}` : baseId;
    const nc = await connectNats(natsOptions(f, `vitstream worker ${id}`));
    const engine = await openEngineFromFlags(f, logLevel).catch(async (e: unknown) => {
      await nc.close();
      throw e;
    });
    const adapter =
      engine.backend === 'cpu'
        ? 'cpu'
        : await listAdapters()
            .then((a) => a[0]?.info.description || a[0]?.info.device || 'webgpu')
            .catch(() => 'webgpu');
    const metrics = metricsPort === undefined ? undefined : createWorkerMetrics();
    const metricsServer = metrics && (await serveMetrics(metrics.registry, f.metricsHost, metricsPort!));
    if (metricsServer)
      process.stderr.write(
        `vitstream worker ${id}: metrics on http://${f.metricsHost}:${metricsServer.port}/metrics\n`,
      );
    const worker = await startWorker({
      nc,
      engine,
      id,
      model: f.model,
      gpu,
      adapter,
      files,
      feeds,
      ackWaitMs,
      maxDeliver,
      heartbeatMs,
      leaseTtlMs,
      logger,
      metrics,
    }).catch(async (e: unknown) => {
      await engine.close();
      await closeNats(nc);
      // The server refused a stream, consumer or bucket: one line, not a client stack.
      throw e instanceof VitstreamError
        ? e
        : new ClusterError(`NATS ${redact(f.nats)}: ${(e as Error).message}`, { input: '--nats', cause: e });
    });
    process.stderr.write(
      `vitstream worker ${id}: ready on ${redact(f.nats)} (model ${f.model}, ${engine.backend} ${engine.precision}, gpu ${gpu}, adapter ${adapter})\n`,
    );
    const stop = () => void worker.stop();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    await worker.done;
    await worker.stop();
    await engine.close();
    await metricsServer?.close();
    await closeNats(nc);
    process.stderr.write(`vitstream worker ${id}: stopped\n`);
  });
}

/**
 * `--gpu all` on a machine with several GPUs: one child worker per GPU, each pinned through the
 * environment (pinEnvironment), since Dawn shows identical cards as one adapter name. A child that
 * dies is started again after a pause; SIGINT/SIGTERM stop them all.
 */
export async function superviseChildren(gpus: PciGpu[], log: Logger): Promise<void> {
  const args = process.argv.slice(2);
  const at = args.findIndex((a) => a === '--gpu' || a.startsWith('--gpu='));
  let stopping = false;
  const children = new Set<ReturnType<typeof spawn>>();
  // Restarts waiting out their pause: a stop cancels them (one left to fire started a worker after
  // the stop, which nobody stopped).
  const restarts = new Set<() => void>();
  const run = (gpu: PciGpu): Promise<void> =>
    new Promise((resolve) => {
      const childArgs = [...args];
      if (childArgs[at] === '--gpu') childArgs[at + 1] = String(gpu.index);
      else childArgs[at] = `--gpu=${gpu.index}`;
      const env = { ...process.env, ...pinEnvironment(gpu) };
      for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
      const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, ...childArgs], {
        env,
        stdio: 'inherit',
      });
      children.add(child);
      child.on('exit', (code, signal) => {
        children.delete(child);
        if (stopping) return resolve();
        log.error({ gpu: gpu.index, code, signal }, 'GPU worker exited; restarting in 2 s');
        const timer = setTimeout(() => {
          restarts.delete(cancel);
          void run(gpu).then(resolve);
        }, 2000);
        const cancel = () => {
          clearTimeout(timer);
          resolve();
        };
        restarts.add(cancel);
      });
    });
  const stop = (signal: NodeJS.Signals) => {
    stopping = true;
    for (const c of children) c.kill(signal);
    for (const cancel of restarts) cancel();
    restarts.clear();
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.stderr.write(`vitstream worker: ${gpus.length} GPUs, one worker process each\n`);
  await Promise.all(gpus.map(run));
}
