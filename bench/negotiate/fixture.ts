import type { ServerResponse } from 'node:http';
import type { NegotiateResult } from '../../src/negotiate/handler';
import type { LoadRequest } from '../lib/load';

/**
 * The negotiate benchmark's fixed inputs, shared by the parent (which signs the caller tokens and serves the
 * issuer's keys) and the server children. The issuer's address and public key are only known at run time;
 * the parent hands them to the children through these environment variables.
 */
export const ACCESS_KEY = 'BenchNegotiateAccessKey0123456789abcdefghijklmnop';
export const ENDPOINT = 'https://bench.webpubsub.azure.com';
export const CONNECTION_STRING = `Endpoint=${ENDPOINT};AccessKey=${ACCESS_KEY};Version=1.0;`;
export const HUB = 'chat';
export const AUDIENCE = 'api://negotiate-bench';
export const GROUP = 'room.1';
export const ROLES = [`webpubsub.joinLeaveGroup.${GROUP}`, `webpubsub.sendToGroup.${GROUP}`];
export const NEGOTIATE_PATH = '/api/negotiate';
export const LIFETIME_MINUTES = 60;

export const ENV_ISSUER = 'BENCH_NEGOTIATE_ISSUER';
/** The issuer's JSON Web Key Set (public keys only). */
export const ENV_JWKS = 'BENCH_NEGOTIATE_JWKS';

export function requiredEnv(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '')
    throw new Error(`${name} is not set: run this server through npm run bench`);
  return value;
}

/** The answer every contender gives: the same shape as ours, so the load generator checks them alike. */
export type NegotiateAnswer = NegotiateResult;

/** How the two hand-written contenders answer, with the same headers as our handler. */
export function writeNegotiateAnswer(res: ServerResponse, answer: NegotiateAnswer): void {
  const text = JSON.stringify(answer);
  res.writeHead(200, {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

/** A caller's negotiate; the sample, which trusts the query, is told the user id the caller's token holds. */
export function negotiateRequest(token: string, userId: string): LoadRequest {
  return {
    method: 'GET',
    path: `${NEGOTIATE_PATH}?groups=${GROUP}&userId=${userId}`,
    headers: { authorization: `Bearer ${token}` },
    body: '',
  };
}
