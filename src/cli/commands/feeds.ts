import type { Command } from 'commander';
import { closeNats, connectNats } from '../../cluster/connect.js';
import { addFeed, listFeeds, removeFeed } from '../../cluster/feeds.js';
import { addNatsOptions, type NatsFlags, natsOptions } from '../nats-options.js';
import { parseSample } from '../sample-options.js';

interface AddFlags extends NatsFlags {
  every?: string;
  fps?: string;
  loop?: boolean;
}

export function registerFeeds(program: Command): void {
  const feeds = program
    .command('feeds')
    .description("the cluster's live feeds (camera definitions in NATS KV)");
  // Usage errors of subcommands reach main (exit 2) like those of top-level commands.
  const sub = (name: string) => feeds.command(name).exitOverride();
  addNatsOptions(
    sub('add')
      .description('define a feed; a worker with room takes it')
      .argument('<id>', "feed id: 1-64 letters, digits, '-' or '_' (predictions on vitstream.live.<id>)")
      .argument('<source>', 'camera /dev/videoN, rtsp:// or http(s):// URL, or a file')
      .option('--every <n>', 'classify every n-th frame')
      .option('--fps <f>', 'classify f frames per second')
      .option('--loop', 'a file source: play it at its own rate, again and again (a stand-in camera)'),
  ).action(async (id: string, source: string, f: AddFlags) => {
    const sample = parseSample(f);
    const nc = await connectNats(natsOptions(f, 'vitstream feeds'));
    try {
      await addFeed(nc, { id, url: source, sample, loop: f.loop });
      process.stderr.write(`feed ${id} added\n`);
    } finally {
      await closeNats(nc);
    }
  });
  addNatsOptions(
    sub('remove').description('remove a feed; its worker stops it').argument('<id>', 'feed id'),
  ).action(async (id: string, f: NatsFlags) => {
    const nc = await connectNats(natsOptions(f, 'vitstream feeds'));
    try {
      await removeFeed(nc, id);
      process.stderr.write(`feed ${id} removed\n`);
    } finally {
      await closeNats(nc);
    }
  });
  addNatsOptions(sub('list').description('feeds, each with the worker and GPU running it')).action(
    async (f: NatsFlags) => {
      const nc = await connectNats(natsOptions(f, 'vitstream feeds'));
      try {
        for (const x of await listFeeds(nc))
          process.stdout.write(
            `${x.def.id}\t${x.def.url}\t${x.lease ? `${x.lease.worker} (gpu ${x.lease.gpu}, since ${x.lease.since})` : 'unassigned'}\n`,
          );
      } finally {
        await closeNats(nc);
      }
    },
  );
}
