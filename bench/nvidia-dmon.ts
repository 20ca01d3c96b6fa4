import { spawn } from 'node:child_process';

/** Mean and peak of one `nvidia-smi dmon -s u` column (percent), over the samples of every GPU. */
export interface UtilSummary {
  gpus: number;
  samples: number;
  meanPct: number;
  maxPct: number;
}

export interface DmonRecorder {
  /** Waits for nvidia-smi to end (stops it if it runs late); undefined where it is missing or printed nothing usable. */
  stop(): Promise<{ dec?: UtilSummary; sm?: UtilSummary } | undefined>;
}

/**
 * Samples GPU utilisation once a second for `seconds` with `nvidia-smi dmon -s u` (columns found by the header,
 * which differs between driver versions: `gpu sm mem enc dec [jpg ofa]`). `dec` is NVDEC's load.
 */
export function recordDmon(seconds: number): DmonRecorder {
  let out = '';
  // A count, so that it ends on its own and flushes: its output to a pipe may be block-buffered.
  const count = String(Math.max(1, Math.floor(seconds)));
  const child = spawn('nvidia-smi', ['dmon', '-s', 'u', '-d', '1', '-c', count], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  child.on('error', () => {}); // no nvidia-smi: stop() says so
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (s: string) => {
    if (out.length < 1 << 20) out += s;
  });
  const exited = new Promise<void>((r) => child.on('close', () => r()));
  return {
    async stop() {
      const late = setTimeout(() => child.kill('SIGTERM'), 3000);
      await exited;
      clearTimeout(late);
      return parseDmon(out);
    },
  };
}

export function parseDmon(text: string): { dec?: UtilSummary; sm?: UtilSummary } | undefined {
  const lines = text.split('\n').map((l) => l.trim());
  const header = lines.find((l) => /^#\s*gpu\b/i.test(l));
  if (!header) return undefined;
  const names = header.replace(/^#\s*/, '').split(/\s+/);
  const rows = lines.filter((l) => l !== '' && !l.startsWith('#')).map((l) => l.split(/\s+/));
  const column = (name: string): UtilSummary | undefined => {
    const i = names.indexOf(name);
    if (i < 0) return undefined;
    const values = rows.map((r) => Number(r[i])).filter((v) => Number.isFinite(v));
    if (values.length === 0) return undefined;
    return {
      gpus: new Set(rows.map((r) => r[0])).size,
      samples: values.length,
      meanPct: values.reduce((a, b) => a + b, 0) / values.length,
      maxPct: Math.max(...values),
    };
  };
  return { dec: column('dec'), sm: column('sm') };
}
