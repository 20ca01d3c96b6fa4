import type { Command } from 'commander';
import type { NatsOptions } from '../cluster/connect.js';

export interface NatsFlags {
  nats: string;
  natsToken?: string;
  natsUser?: string;
  natsPass?: string;
  natsNkey?: string;
  natsCa?: string;
  natsCert?: string;
  natsKey?: string;
}

/** The connection flags of the cluster commands (worker, submit, results, feeds). */
export function addNatsOptions(cmd: Command): Command {
  return cmd
    .requiredOption('--nats <url>', 'NATS server URL(s), comma-separated (nats://host:4222)')
    .option('--nats-token <token>', 'NATS token (or $NATS_TOKEN)')
    .option('--nats-user <user>', 'NATS user')
    .option('--nats-pass <password>', 'NATS password (or $NATS_PASSWORD)')
    .option('--nats-nkey <file>', 'file holding an NKey seed')
    .option('--nats-ca <file>', 'TLS: CA certificate')
    .option('--nats-cert <file>', 'TLS: client certificate')
    .option('--nats-key <file>', 'TLS: client key');
}

export function natsOptions(f: NatsFlags, name: string): NatsOptions {
  return {
    url: f.nats,
    token: f.natsToken ?? process.env.NATS_TOKEN,
    user: f.natsUser,
    pass: f.natsPass ?? process.env.NATS_PASSWORD,
    nkeySeedFile: f.natsNkey,
    tlsCa: f.natsCa,
    tlsCert: f.natsCert,
    tlsKey: f.natsKey,
    name,
  };
}
