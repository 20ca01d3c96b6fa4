/** Scale-out over NATS JetStream: the pieces the CLI's worker, submit, results and feeds use. */
export { closeNats, connectNats, type NatsOptions } from './connect.js';
export { addFeed, listFeeds, removeFeed } from './feeds.js';
export { chooseGpus, listPciGpus, pinEnvironment } from './gpus.js';
export { relayLiveToHub } from './live-relay.js';
export { type CollectOptions, collectResults, type JobProgress } from './results.js';
export * as subjects from './subjects.js';
export { type SubmitOptions, submitJob } from './submit.js';
export { startWorker, type Worker, type WorkerOptions } from './worker.js';
