import cliProgress from 'cli-progress';

/** Per-item progress: bars on a terminal, a plain line per 10% (and at the end) elsewhere. */
export interface ProgressBoard {
  add(id: string, label: string, total?: number): void;
  update(id: string, done: number): void;
  finish(id: string, note: string): void;
  stop(): void;
}

export function progressBoard(stream: NodeJS.WriteStream = process.stderr): ProgressBoard {
  if (stream.isTTY) {
    const multi = new cliProgress.MultiBar(
      {
        stream,
        format: '{label} [{bar}] {percentage}% | {value}/{total} frames | {note}',
        hideCursor: true,
        clearOnComplete: false,
        etaBuffer: 50,
      },
      cliProgress.Presets.shades_classic,
    );
    const bars = new Map<string, cliProgress.SingleBar>();
    return {
      add(id, label, total) {
        bars.set(
          id,
          multi.create(total ?? 0, 0, {
            label: label.padEnd(28).slice(0, 28),
            note: total ? '' : 'length unknown',
          }),
        );
      },
      update(id, done) {
        const b = bars.get(id);
        if (!b) return;
        if (done > b.getTotal()) b.setTotal(done);
        b.update(done);
      },
      finish(id, note) {
        const b = bars.get(id);
        if (!b) return;
        b.setTotal(Math.max(b.getTotal(), b.getProgress() * b.getTotal()));
        b.update({ note });
      },
      stop: () => multi.stop(),
    };
  }
  const state = new Map<string, { label: string; total?: number; step: number }>();
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
    stop() {},
  };
}
