import cliProgress from 'cli-progress';

/** Per-item progress: bars on a terminal, a plain line per 10% (and at the end) elsewhere. */
export interface ProgressBoard {
  /** Items are shown in the order they are added. */
  add(id: string, label: string, total?: number): void;
  update(id: string, done: number): void;
  finish(id: string, note: string): void;
  /** The item failed: its bar says so (never full); without a terminal the error follows on its own line. */
  fail(id: string, error: string): void;
  stop(): void;
}

interface BarPayload {
  label: string;
  note: string;
  failed?: boolean;
}

/** Failed bars drop the bar and counts: a full bar or "0/0" would read as done. */
function formatLine(options: cliProgress.Options, params: cliProgress.Params, payload: BarPayload): string {
  if (payload.failed) return `${payload.label} [FAILED] ${payload.note}`;
  const width = options.barsize ?? 40;
  const filled = Math.round(params.progress * width);
  const bar = `${(options.barCompleteString ?? '=').slice(0, filled)}${(options.barIncompleteString ?? '-').slice(0, width - filled)}`;
  const percent = Math.floor(params.progress * 100);
  return `${payload.label} [${bar}] ${percent}% | ${params.value}/${params.total} frames | ${payload.note}`;
}

export function progressBoard(stream: NodeJS.WriteStream = process.stderr): ProgressBoard {
  if (stream.isTTY) {
    const multi = new cliProgress.MultiBar(
      {
        stream,
        format: formatLine as unknown as string,
        hideCursor: true,
        clearOnComplete: false,
        etaBuffer: 50,
      },
      cliProgress.Presets.shades_classic,
    );
    const bars = new Map<string, { bar: cliProgress.SingleBar }>();
    return {
      add(id, label, total) {
        const shown = label.padEnd(28).slice(0, 28);
        const bar = multi.create(total ?? 0, 0, { label: shown, note: total ? '' : 'length unknown' });
        bars.set(id, { bar });
      },
      update(id, done) {
        const b = bars.get(id)?.bar;
        if (!b) return;
        if (done > b.getTotal()) b.setTotal(done);
        b.update(done);
      },
      finish(id, note) {
        const b = bars.get(id)?.bar;
        if (!b) return;
        b.setTotal(Math.max(b.getTotal(), b.getProgress() * b.getTotal()));
        b.update({ note });
      },
      fail(id) {
        // The bar line is cut at the terminal's width: the error itself is the caller's to print
        // on a line of its own (classify lists failures after the bars).
        bars.get(id)?.bar.update({ note: '(error below)', failed: true });
      },
      stop: () => multi.stop(),
    };
  }
  const state = new Map<string, { label: string; total?: number; step: number }>();
  const failedOnce = new Set<string>();
  return {
    add(id, label, total) {
      state.set(id, { label, total, step: 0 });
    },
    update(id, done) {
      const s = state.get(id);
      if (!s?.total) return;
      const step = Math.floor((10 * done) / s.total);
      if (step > s.step && step < 10) {
        s.step = step;
        stream.write(`${s.label}: ${step * 10}% (${done}/${s.total} frames)\n`);
      }
    },
    finish(id, note) {
      const s = state.get(id);
      if (s) stream.write(`${s.label}: ${note}\n`);
    },
    fail(id, error) {
      const s = state.get(id);
      if (!s || failedOnce.has(id)) return;
      failedOnce.add(id);
      stream.write(`${s.label}: FAILED: ${error}\n`);
    },
    stop() {},
  };
}
