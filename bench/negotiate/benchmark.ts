import { join } from 'node:path';
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
import { CALLERS, startIssuer, type Issuer } from './issuer';
import {
  ENDPOINT,
  ENV_ISSUER,
  ENV_JWKS,
  GROUP,
  HUB,
  NEGOTIATE_PATH,
  ROLES,
  negotiateRequest,
  type NegotiateAnswer,
} from './fixture';

const SERVERS = ['floor', 'sample', 'ours', 'ours-uncached'] as const;
type ServerName = (typeof SERVERS)[number];

// As for the webhook: 20 connections keep the server's core and autocannon's core busy on 2 cores.
const DEFAULT_CONNECTIONS = 20;

// 4 servers × (2 s warm-up + 4 rounds × 3 s) = 56 s of load, plus ~3 s to make keys and caller tokens.
const FULL: Plan = { warmupSeconds: 2, rounds: 4, roundSeconds: 3 };
const QUICK: Plan = { warmupSeconds: 1, rounds: 1, roundSeconds: 2 };

const WORKLOAD = `GET ${NEGOTIATE_PATH}?groups=${GROUP}, RS256 bearer tokens of ${CALLERS} callers in rotation, key mode`;

export const negotiateBenchmark: Benchmark = {
  name: 'negotiate',
  description:
    'negotiate requests/s: a bare node:http floor (verify + sign, cached keys), the usual getClientAccessToken sample, and ours',
  run: runNegotiateBenchmark,
};

async function runNegotiateBenchmark(context: BenchContext): Promise<BenchOutcome> {
  const plan = context.quick ? QUICK : FULL;
  const connections = context.connections ?? DEFAULT_CONNECTIONS;
  const issuer = await startIssuer();
  let servers: Record<ServerName, ChildServer> | undefined;
  let samples: Record<ServerName, HttpSample[]>;
  try {
    // Children inherit the environment at spawn: the issuer's address and public keys, nothing secret.
    process.env[ENV_ISSUER] = issuer.issuer;
    process.env[ENV_JWKS] = issuer.jwks;
    servers = await startChildServers(context, SERVERS, (name) => ({
      script: join(__dirname, 'servers', `${name}.js`),
      profileName: `negotiate-${name}.cpuprofile`,
    }));
    for (const name of SERVERS) await verify(servers[name], issuer);
    context.log(`negotiate: every server answers correctly; warming up ${plan.warmupSeconds} s each`);
    const lists = requestLists(issuer, connections);
    for (const name of SERVERS) await load(servers[name], lists, plan.warmupSeconds);
    const running = servers;
    samples = await interleavedRounds({
      names: SERVERS,
      rounds: plan.rounds,
      measure: (name) => load(running[name], lists, plan.roundSeconds),
      describe: describeHttpSample,
      log: (round, line) => context.log(`negotiate: round ${round + 1}/${plan.rounds}: ${line}`),
    });
  } finally {
    Reflect.deleteProperty(process.env, ENV_ISSUER);
    Reflect.deleteProperty(process.env, ENV_JWKS);
    const running = servers;
    if (running) await Promise.all(SERVERS.map((name) => running[name].close()));
    await issuer.close();
  }

  const rps = (name: ServerName): number => median(samples[name].map((s) => s.requestsPerSecond));
  const p99 = (name: ServerName): number => median(samples[name].map((s) => s.p99Ms));
  const cpu = (name: ServerName): number => median(samples[name].map((s) => s.cpuUsPerRequest));
  const workload = `${WORKLOAD}, ${connections} connections (one autocannon instance each), median of ${plan.rounds} × ${plan.roundSeconds} s`;
  const floor = { name: 'floor', value: rps('floor') };
  const sample = { name: 'sample', value: rps('sample') };
  const base = { benchmark: 'negotiate', workload, unit: 'req/s' };
  const row = (name: ServerName, label: string): BenchRow => ({
    ...base,
    name: label,
    value: rps(name),
    p99Ms: p99(name),
    cpuUsPerRequest: cpu(name),
  });
  const rows: BenchRow[] = [
    row('floor', 'floor (node:http, RS256 verify + HS256 sign, keys cached)'),
    {
      ...row('sample', 'sample (getClientAccessToken, userId from the query, nothing verified)'),
      baseline: floor,
      ratio: sample.value / floor.value,
      reference: '~560 µs CPU per token measured elsewhere',
    },
    {
      ...row('ours', 'ours vs floor (bearer verified, policy, CORS)'),
      baseline: floor,
      ratio: rps('ours') / floor.value,
      target: { atLeast: 0.5 },
    },
    {
      ...row('ours', 'ours vs sample'),
      baseline: sample,
      ratio: rps('ours') / sample.value,
      target: { atLeast: 10 },
    },
    {
      ...row('ours-uncached', 'ours, every caller token verified afresh (no cache), vs floor'),
      baseline: floor,
      ratio: rps('ours-uncached') / floor.value,
      target: { atLeast: 0.5 },
    },
  ];
  return { rows, details: { plan, connections, callers: CALLERS, samples } };
}

/**
 * One request list per load connection: every caller in turn, each list starting at its own caller, so the
 * connections do not present the same token at the same moment.
 */
function requestLists(issuer: Issuer, connections: number): LoadRequest[][] {
  // The sample, which trusts the query, is told the same user id as the caller's token holds.
  const callers = issuer.tokens.map((token, i) => negotiateRequest(token, `user-${i}`));
  const stride = Math.max(1, Math.floor(callers.length / connections));
  return Array.from({ length: connections }, (_, list) => {
    const start = (list * stride) % callers.length;
    return [...callers.slice(start), ...callers.slice(0, start)];
  });
}

function load(server: ChildServer, lists: LoadRequest[][], seconds: number): Promise<HttpSample> {
  return runLoad({
    url: server.url,
    connections: lists,
    durationSeconds: seconds,
    expectStatuses: [200],
    serverCpuMicros: () => server.cpuMicros(),
  });
}

async function send(
  server: ChildServer,
  token: string,
  userId: string,
): Promise<{ status: number; text: string }> {
  const response = await fetch(`${server.url}${NEGOTIATE_PATH}?groups=${GROUP}&userId=${userId}`, {
    headers: { authorization: `Bearer ${token}` },
  });
  return { status: response.status, text: await response.text() };
}

/** A server that answers wrongly (or skips the verification it claims) would make its figure meaningless. */
async function verify(server: ChildServer, issuer: Issuer): Promise<void> {
  const fail = (what: string, answer: { status: number; text: string }): never => {
    throw new Error(
      `negotiate: server ${server.name} ${what}: ${answer.status} ${JSON.stringify(answer.text.slice(0, 300))}`,
    );
  };
  const token = issuer.tokens[7] as string;
  const answer = await send(server, token, server.name === 'sample' ? 'user-7' : 'mallory');
  if (answer.status !== 200) fail('did not negotiate', answer);
  const body = JSON.parse(answer.text) as NegotiateAnswer;
  const clientToken = new URL(body.url).searchParams.get('access_token') ?? '';
  const claims = JSON.parse(
    Buffer.from(clientToken.split('.')[1] ?? '', 'base64url').toString('utf8'),
  ) as Record<string, unknown>;
  const expected = {
    sub: 'user-7',
    aud: `${ENDPOINT}/client/hubs/${HUB}`,
    role: JSON.stringify(ROLES),
    group: JSON.stringify([GROUP]),
  };
  if (
    claims.sub !== expected.sub ||
    claims.aud !== expected.aud ||
    JSON.stringify(claims.role) !== expected.role ||
    JSON.stringify(claims['webpubsub.group']) !== expected.group ||
    body.userId !== 'user-7'
  ) {
    fail(`issued other claims than ${JSON.stringify(expected)}`, answer);
  }
  if (server.name !== 'sample') {
    // The comparison is only fair if verification is really on: a forged signature must be refused.
    const refused = await send(server, issuer.forged, 'user-0');
    if (refused.status !== 401) fail('accepted a forged caller token', refused);
  }
}
