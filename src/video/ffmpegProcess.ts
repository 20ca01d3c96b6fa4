import type { ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';
import { killFfmpeg, spawnFfmpeg } from './spawn.js';
import { type ShowinfoHandlers, StderrLog } from './stderrLog.js';

export interface FfmpegProcessOptions extends ShowinfoHandlers {
  /** Piped into ffmpeg's stdin. */
  stdin?: Readable;
  /** A process group of its own (see spawnFfmpeg). */
  processGroup?: boolean;
  /** Bytes from stdout (rawvideo). */
  onStdout(chunk: Buffer): void;
  /** ffmpeg has exited and its pipes are closed; `stderr` holds what it said. */
  onExit(code: number | null, signal: NodeJS.Signals | null): void;
  /** ffmpeg could not be started at all. */
  onSpawnError(error: Error): void;
}

/** One ffmpeg child: started at construction, stdout and stderr routed to the handlers, stopped by stop(). */
export class FfmpegProcess {
  readonly stderr: StderrLog;
  private readonly child: ChildProcess;
  private paused = false;

  constructor(bin: string, args: string[], options: FfmpegProcessOptions) {
    this.stderr = new StderrLog(options);
    this.child = spawnFfmpeg(bin, args, options.stdin, { processGroup: options.processGroup });
    this.child.on('error', options.onSpawnError);
    this.child.stdout?.on('data', options.onStdout);
    this.child.stderr?.setEncoding('utf8');
    this.child.stderr?.on('data', (s: string) => this.stderr.write(s));
    this.child.on('close', (code, signal) => {
      this.stderr.end();
      options.onExit(code, signal);
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Backpressure: stop reading stdout, so that ffmpeg blocks on its next write. */
  pause(): void {
    if (this.paused) return;
    this.paused = true;
    this.child.stdout?.pause();
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.child.stdout?.resume();
  }

  /** SIGTERM, then SIGKILL after `graceMs` (see killFfmpeg). */
  stop(graceMs: number): void {
    killFfmpeg(this.child, graceMs);
  }
}
