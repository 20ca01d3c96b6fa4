import {
  asyncScheduler,
  type MonoTypeOperatorFunction,
  Observable,
  type SchedulerLike,
  type Subscription,
  timer,
} from 'rxjs';

export interface BackoffOptions {
  /** First retry delay (default 500 ms). */
  initialMs?: number;
  /** Delay ceiling (default 30 s). */
  maxMs?: number;
  /** Growth per failed attempt (default 2). */
  factor?: number;
  /** Attempts in a row before giving up and erroring (default Infinity). */
  maxRetries?: number;
}

export interface ReconnectOptions extends BackoffOptions {
  /** Treat completion as a failure to retry (live feeds should not end); returning undefined lets this one complete. */
  completeIsFailure?: (() => Error | undefined) | undefined;
  /** Told before each wait; `attempt` counts from 1. */
  onRetry?: (info: { attempt: number; delayMs: number; error: unknown }) => void;
  scheduler?: SchedulerLike;
}

export function backoffDelay(attempt: number, o: BackoffOptions = {}): number {
  const initial = o.initialMs ?? 500;
  return Math.min(o.maxMs ?? 30_000, initial * (o.factor ?? 2) ** Math.max(0, attempt - 1));
}

/**
 * Resubscribes to the source after it fails, waiting with bounded exponential backoff. The attempt
 * count resets once a value gets through, so a feed that flaps after hours starts again at the
 * initial delay.
 */
export function reconnect<T>(options: ReconnectOptions = {}): MonoTypeOperatorFunction<T> {
  const scheduler = options.scheduler ?? asyncScheduler;
  const maxRetries = options.maxRetries ?? Number.POSITIVE_INFINITY;
  return (source) =>
    new Observable<T>((subscriber) => {
      let attempt = 0;
      let inner: Subscription | undefined;
      let wait: Subscription | undefined;
      const retry = (error: unknown) => {
        attempt++;
        if (attempt > maxRetries) {
          subscriber.error(error);
          return;
        }
        const delayMs = backoffDelay(attempt, options);
        options.onRetry?.({ attempt, delayMs, error });
        wait = timer(delayMs, scheduler).subscribe(connect);
      };
      function connect() {
        inner = source.subscribe({
          next: (v) => {
            attempt = 0;
            subscriber.next(v);
          },
          error: retry,
          complete: () => {
            const failure = options.completeIsFailure?.();
            if (failure) retry(failure);
            else subscriber.complete();
          },
        });
      }
      connect();
      return () => {
        wait?.unsubscribe();
        inner?.unsubscribe();
      };
    });
}
