import { isDeepStrictEqual } from 'node:util';
import { startChildServer, type ChildServer } from '../lib/child-server';
import { runLoad, type LoadRequest, type LoadResult } from '../lib/load';
import { median } from '../lib/stats';
import type { Benchmark, BenchContext, BenchOutcome, BenchRow } from '../types';
import {
  CONNECT_REQUEST,
  EXPECTED_CONNECT_REPLY,
  REQUEST_MIX,
  signedConnections,
  type SignedConnection,
  USER_EVENT_REQUEST,
  USER_EVENT_TEXT,
  type MixRequest,
} from './fixture';

const SERVERS = ['floor', 'express', 'ours'] as const;
type ServerName = (typeof SERVERS)[number];

interface Sample extends LoadResult {
  cpuUsPerRequest: number;
}

// 20 connections keep both the server's core and autocannon's core busy on a 2-core machine; many more
// only lengthen queues (and p99) without adding throughput.
const DEFAULT_CONNECTIONS = 20;

interface Plan {
  warmupSeconds: number;
  rounds: number;
  roundSeconds: number;
}

// 3 servers × (2 s warm-up + 5 rounds × 3 s) ≈ 51 s of load, inside the 40–60 s budget.
const FULL: Plan = { warmupSeconds: 2, rounds: 5, roundSeconds: 3 };
const QUICK: Plan = { warmupSeconds: 1, rounds: 1, roundSeconds: 2 };

const WORKLOAD = 'CloudEvents webhook, signed connect (JSON) + user event (text) 1:1';

export const webhookBenchmark: Benchmark = {
  name: 'webhook',
  description: 'webhook requests/s: a bare node:http floor, @azure/web-pubsub-express and ours',
  run: runWebhookBenchmark,
};

async function runWebhookBenchmark(context: BenchContext): Promise<BenchOutcome> {
  const plan = context.quick ? QUICK : FULL;
  const connections = context.connections ?? DEFAULT_CONNECTIONS;
  const servers = await startServers(context);
  const samples: Record<ServerName, Sample[]> = { floor: [], express: [], ours: [] };
  try {
    for (const name of SERVERS) await verify(servers[name]);
    context.log(`webhook: every server answers the mix correctly; warming up ${plan.warmupSeconds} s each`);
    for (const name of SERVERS) await load(servers[name], connections, plan.warmupSeconds);
    for (let round = 0; round < plan.rounds; round++) {
      // Rotating who goes first spreads any drift of the machine (thermal, neighbours) over all three.
      const order = SERVERS.map((_, i) => SERVERS[(i + round) % SERVERS.length] as ServerName);
      const line: string[] = [];
      for (const name of order) {
        const result = await load(servers[name], connections, plan.roundSeconds);
        samples[name].push(result);
        line.push(
          `${name} ${Math.round(result.requestsPerSecond)}/s p99 ${result.p99Ms} ms ` +
            `${result.cpuUsPerRequest.toFixed(1)} µs CPU/req`,
        );
      }
      context.log(`webhook: round ${round + 1}/${plan.rounds}: ${line.join(', ')}`);
    }
  } finally {
    await Promise.all(SERVERS.map((name) => servers[name].close()));
  }

  const rps = (name: ServerName): number => median(samples[name].map((s) => s.requestsPerSecond));
  const p99 = (name: ServerName): number => median(samples[name].map((s) => s.p99Ms));
  const cpu = (name: ServerName): number => median(samples[name].map((s) => s.cpuUsPerRequest));
  const workload = `${WORKLOAD}, ${connections} connections, median of ${plan.rounds} × ${plan.roundSeconds} s`;
  const floor = { name: 'floor', value: rps('floor') };
  const express = { name: 'express', value: rps('express') };
  const ours = rps('ours');
  const base = { benchmark: 'webhook', workload, unit: 'req/s' };
  const rows: BenchRow[] = [
    {
      ...base,
      name: 'floor (node:http, read body, 204)',
      value: floor.value,
      p99Ms: p99('floor'),
      cpuUsPerRequest: cpu('floor'),
    },
    {
      ...base,
      name: 'express (@azure/web-pubsub-express 1.0.6, no signature check)',
      value: express.value,
      p99Ms: p99('express'),
      cpuUsPerRequest: cpu('express'),
      baseline: floor,
      ratio: express.value / floor.value,
      reference: '0.45–0.6× measured elsewhere',
    },
    {
      ...base,
      name: 'ours vs floor (signature verified)',
      value: ours,
      p99Ms: p99('ours'),
      cpuUsPerRequest: cpu('ours'),
      baseline: floor,
      ratio: ours / floor.value,
      target: { atLeast: 0.85 },
    },
    {
      ...base,
      name: 'ours vs express',
      value: ours,
      p99Ms: p99('ours'),
      cpuUsPerRequest: cpu('ours'),
      baseline: express,
      ratio: ours / express.value,
      target: { atLeast: 1.5 },
    },
  ];
  return { rows, details: { plan, connections, samples } };
}

async function startServers(context: BenchContext): Promise<Record<ServerName, ChildServer>> {
  const started = await Promise.allSettled(
    SERVERS.map((name) =>
      startChildServer(name, {
        nodeArgs: context.profile.has(name)
          ? [
              '--cpu-prof',
              `--cpu-prof-dir=${context.outputDir}/profiles`,
              `--cpu-prof-name=${name}.cpuprofile`,
            ]
          : [],
      }),
    ),
  );
  const failed = started.find((outcome) => outcome.status === 'rejected');
  if (failed) {
    await Promise.all(
      started.map((outcome) => (outcome.status === 'fulfilled' ? outcome.value.close() : Promise.resolve())),
    );
    throw failed.reason;
  }
  const [floor, express, ours] = started.map(
    (outcome) => (outcome as PromiseFulfilledResult<ChildServer>).value,
  );
  return { floor, express, ours } as Record<ServerName, ChildServer>;
}

const POOL = signedConnections(50_000);
let nextConnection = 0;

/** Every connect opens a new connection; the user event that follows it on the same socket is from it. */
function rotateConnections(request: LoadRequest, context: Record<string, unknown>): LoadRequest {
  if (request.headers['ce-type'] === CONNECT_REQUEST.headers['ce-type']) {
    context.connection = POOL[nextConnection++ % POOL.length];
  }
  const connection = (context.connection ?? POOL[0]) as SignedConnection;
  return {
    ...request,
    headers: {
      ...request.headers,
      'ce-connectionid': connection.connectionId,
      'ce-signature': connection.signature,
      'ce-source': `/hubs/chat/client/${connection.connectionId}`,
    },
  };
}

async function load(server: ChildServer, connections: number, seconds: number): Promise<Sample> {
  const cpuBefore = await server.cpuMicros();
  const result = await runLoad({
    url: server.url,
    requests: REQUEST_MIX,
    setupRequest: rotateConnections,
    connections,
    durationSeconds: seconds,
    expectStatuses: server.name === 'floor' ? [204] : [200],
  });
  const cpuUsPerRequest = ((await server.cpuMicros()) - cpuBefore) / result.completed;
  return { ...result, cpuUsPerRequest };
}

interface Answer {
  status: number;
  contentType: string;
  body: string;
}

async function send(
  server: ChildServer,
  request: MixRequest,
  headers: Record<string, string> = {},
): Promise<Answer> {
  const response = await fetch(server.url + request.path, {
    method: request.method,
    headers: { ...request.headers, ...headers },
    body: request.body,
  });
  return {
    status: response.status,
    contentType: response.headers.get('content-type') ?? '',
    body: await response.text(),
  };
}

/** A server that answers wrongly would make its figure meaningless: refuse to measure it. */
async function verify(server: ChildServer): Promise<void> {
  const fail = (what: string, answer: Answer): never => {
    throw new Error(
      `webhook: server ${server.name} answered the ${what} wrongly: ${answer.status} ` +
        `${answer.contentType} ${JSON.stringify(answer.body.slice(0, 300))}`,
    );
  };
  const connect = await send(server, CONNECT_REQUEST);
  const user = await send(server, USER_EVENT_REQUEST);
  if (server.name === 'floor') {
    if (connect.status !== 204) fail('connect', connect);
    if (user.status !== 204) fail('user event', user);
    return;
  }
  if (
    connect.status !== 200 ||
    !connect.contentType.startsWith('application/json') ||
    !isDeepStrictEqual(parseJson(connect.body), EXPECTED_CONNECT_REPLY)
  ) {
    fail('connect', connect);
  }
  if (user.status !== 200 || !user.contentType.startsWith('text/plain') || user.body !== USER_EVENT_TEXT) {
    fail('user event', user);
  }
  if (server.name === 'ours') {
    // The comparison is only fair to the claim if verification is really on: a forged signature must fail.
    const forged = (CONNECT_REQUEST.headers['ce-signature'] as string).replace(/.$/, (c) =>
      c === '0' ? '1' : '0',
    );
    const refused = await send(server, CONNECT_REQUEST, { 'ce-signature': forged });
    if (refused.status !== 401) fail('connect with a forged signature', refused);
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
