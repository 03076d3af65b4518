import { isDeepStrictEqual } from 'node:util';
import type { ChildServer } from '../lib/child-server';
import { runLoad, type LoadRequest } from '../lib/load';
import {
  describeHttpSample,
  interleavedRounds,
  startChildServers,
  type HttpSample,
  type Plan,
} from '../lib/rounds';
import { median } from '../lib/stats';
import type { Benchmark, BenchContext, BenchOutcome, BenchRow } from '../types';
import {
  CONNECT_REQUEST,
  EXPECTED_CONNECT_REPLY,
  REQUEST_MIX,
  signedConnections,
  USER_EVENT_REQUEST,
  USER_EVENT_TEXT,
  withConnection,
  type MixRequest,
} from './fixture';

const SERVERS = ['floor', 'express', 'ours'] as const;
type ServerName = (typeof SERVERS)[number];

// 20 connections keep both the server's core and autocannon's core busy on a 2-core machine; many more
// only lengthen queues (and p99) without adding throughput.
const DEFAULT_CONNECTIONS = 20;

// 3 servers × (2 s warm-up + 5 rounds × 3 s) ≈ 51 s of load, inside the 40–60 s budget.
const FULL: Plan = { warmupSeconds: 2, rounds: 5, roundSeconds: 3 };
const QUICK: Plan = { warmupSeconds: 1, rounds: 1, roundSeconds: 2 };

const WORKLOAD =
  'CloudEvents webhook, signed connect (JSON) + user event (text) 1:1, every connect from a connection id not seen before';

export const webhookBenchmark: Benchmark = {
  name: 'webhook',
  description: 'webhook requests/s: a bare node:http floor, @azure/web-pubsub-express and ours',
  run: runWebhookBenchmark,
};

async function runWebhookBenchmark(context: BenchContext): Promise<BenchOutcome> {
  const plan = context.quick ? QUICK : FULL;
  const connections = context.connections ?? DEFAULT_CONNECTIONS;
  const servers = await startChildServers(context, SERVERS);
  let samples: Record<ServerName, HttpSample[]>;
  try {
    for (const name of SERVERS) await verify(servers[name]);
    context.log(`webhook: every server answers the mix correctly; warming up ${plan.warmupSeconds} s each`);
    const lists = requestLists(connections);
    for (const name of SERVERS) await load(servers[name], lists, plan.warmupSeconds);
    samples = await interleavedRounds({
      names: SERVERS,
      rounds: plan.rounds,
      measure: (name) => load(servers[name], lists, plan.roundSeconds),
      describe: describeHttpSample,
      log: (round, line) => context.log(`webhook: round ${round + 1}/${plan.rounds}: ${line}`),
    });
  } finally {
    await Promise.all(SERVERS.map((name) => servers[name].close()));
  }

  const rps = (name: ServerName): number => median(samples[name].map((s) => s.requestsPerSecond));
  const p99 = (name: ServerName): number => median(samples[name].map((s) => s.p99Ms));
  const cpu = (name: ServerName): number => median(samples[name].map((s) => s.cpuUsPerRequest));
  const workload = `${WORKLOAD}, ${connections} connections (one autocannon instance each), median of ${plan.rounds} × ${plan.roundSeconds} s`;
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

// Connection ids no webhook has seen: more than any webhook remembers (ours, 10,000), so an id that comes
// round again has long been forgotten.
const MIN_DISTINCT_CONNECTIONS = 20_000;

/**
 * One request list per load connection, as each Web PubSub connection talks to the webhook: a connect from
 * a connection id never seen before, then a user event from it. No two lists share an id.
 */
function requestLists(connections: number): LoadRequest[][] {
  const perList = Math.ceil(MIN_DISTINCT_CONNECTIONS / connections);
  const pool = signedConnections(perList * connections);
  return Array.from({ length: connections }, (_, list) =>
    pool
      .slice(list * perList, (list + 1) * perList)
      .flatMap((connection) => REQUEST_MIX.map((request) => withConnection(request, connection))),
  );
}

function load(server: ChildServer, lists: LoadRequest[][], seconds: number): Promise<HttpSample> {
  return runLoad({
    url: server.url,
    connections: lists,
    durationSeconds: seconds,
    expectStatuses: server.name === 'floor' ? [204] : [200],
    serverCpuMicros: () => server.cpuMicros(),
  });
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
