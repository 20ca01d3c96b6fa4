import { afterEach, describe, expect, it } from 'vitest';
import { createServer, type VitstreamServer } from '../../src/server/index.js';
import { TestClient, upgradeStatus } from './helpers.js';

let server: VitstreamServer | undefined;

afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function metricsText(token: string): Promise<string> {
  return (await fetch(`${server!.url}metrics?token=${token}`)).text();
}

describe('access control', () => {
  it('refuses an upgrade without the token (401) and accepts it by query or Bearer header', async () => {
    server = await createServer({ port: 0, token: 's3cret' });
    expect(await upgradeStatus(server.wsUrl)).toBe(401);
    expect(await upgradeStatus(`${server.wsUrl}?token=wrong`)).toBe(401);
    expect(await upgradeStatus(server.wsUrl, { headers: { Authorization: 'Bearer nope' } })).toBe(401);
    expect(await upgradeStatus(`${server.wsUrl}?token=s3cret`)).toBe(101);
    expect(await upgradeStatus(server.wsUrl, { headers: { Authorization: 'Bearer s3cret' } })).toBe(101);
    const c = await TestClient.connect(`${server.wsUrl}?token=s3cret`);
    expect(c.messages[0]!.type).toBe('hello');
    await c.close();
    expect(await metricsText('s3cret')).toMatch(/vitstream_ws_rejected_total\{reason="auth"\} 3/);
  });

  it('puts /metrics behind the token but leaves the dashboard and /healthz open', async () => {
    server = await createServer({ port: 0, token: 's3cret' });
    expect((await fetch(`${server.url}metrics`)).status).toBe(401);
    expect((await fetch(`${server.url}metrics?token=s3cret`)).status).toBe(200);
    expect(
      (await fetch(`${server.url}metrics`, { headers: { Authorization: 'Bearer s3cret' } })).status,
    ).toBe(200);
    expect((await fetch(server.url)).status).toBe(200);
    expect((await fetch(`${server.url}healthz`)).status).toBe(200);
  });

  it('refuses foreign origins (403), accepts listed ones and clients that send none', async () => {
    server = await createServer({
      port: 0,
      allowedOrigins: ['https://dash.example.com', 'http://localhost:3000/'],
    });
    expect(await upgradeStatus(server.wsUrl, { origin: 'https://evil.example.com' })).toBe(403);
    expect(await upgradeStatus(server.wsUrl, { origin: 'https://dash.example.com' })).toBe(101);
    expect(await upgradeStatus(server.wsUrl, { origin: 'HTTP://LOCALHOST:3000' })).toBe(101);
    expect(await upgradeStatus(server.wsUrl)).toBe(101);
  });

  it('checks the origin before the token', async () => {
    server = await createServer({ port: 0, token: 't', allowedOrigins: ['https://ok.example'] });
    expect(await upgradeStatus(server.wsUrl, { origin: 'https://evil.example' })).toBe(403);
    expect(await upgradeStatus(`${server.wsUrl}?token=t`, { origin: 'https://evil.example' })).toBe(403);
    expect(await upgradeStatus(`${server.wsUrl}?token=t`, { origin: 'https://ok.example' })).toBe(101);
  });

  it('answers upgrades on other paths with 404 and refuses clients beyond maxClients with 503', async () => {
    server = await createServer({ port: 0, maxClients: 1 });
    expect(await upgradeStatus(server.url.replace('http', 'ws'))).toBe(404);
    const first = await TestClient.connect(server.wsUrl);
    expect(await upgradeStatus(server.wsUrl)).toBe(503);
    await first.close();
  });
});
