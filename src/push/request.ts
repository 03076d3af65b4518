import type { CoreRequest } from '../http/types';
import { badRequest, notFound, unsupportedMediaType } from '../protocol/errors';
import type { HeaderSource } from '../protocol/headers';
import {
  CONNECTION_PERMISSIONS,
  groupNameProblem,
  hubNameProblem,
  isConnectionPermission,
  isValidConnectionId,
  isValidUserId,
  MAX_MESSAGE_BYTES,
  MAX_MESSAGE_TTL_SECONDS,
  type ConnectionPermission,
} from '../protocol/names';
import { filterProblem } from './filter';

/**
 * Everything a push request carries, checked against the service's rules before any call is made: a request
 * refused here costs the service nothing and changes nothing. Every refusal names the part that is wrong.
 */

// ---- route parameters ----

export type NameKind = 'userId' | 'group' | 'connectionId' | 'permission';

export interface PushNames {
  /** The hub as configured (the service compares hubs without case; we use the configured spelling). */
  hub: string;
  userId?: string;
  group?: string;
  connectionId?: string;
  permission?: ConnectionPermission;
}

function param(request: CoreRequest, name: string): string {
  return request.params?.[name] ?? '';
}

export function parseNames(
  request: CoreRequest,
  kinds: readonly NameKind[],
  hubs: readonly string[],
): PushNames {
  const rawHub = param(request, 'hub');
  const hubProblem = hubNameProblem(rawHub);
  if (hubProblem !== undefined) throw badRequest('invalid-hub', `The hub name "${rawHub}" ${hubProblem}.`);
  const hub = hubs.find((known) => known.toLowerCase() === rawHub.toLowerCase());
  if (hub === undefined) throw notFound('unknown-hub', `This app does not serve hub "${rawHub}".`);

  const names: PushNames = { hub };
  for (const kind of kinds) {
    const value = param(request, kind);
    switch (kind) {
      case 'group': {
        const problem = groupNameProblem(value);
        if (problem !== undefined) throw badRequest('invalid-group', `The group name ${problem}.`);
        names.group = value;
        break;
      }
      case 'userId':
        if (!isValidUserId(value)) throw badRequest('invalid-user-id', 'The user id must not be empty.');
        names.userId = value;
        break;
      case 'connectionId':
        if (!isValidConnectionId(value)) {
          throw badRequest('invalid-connection-id', 'The connection id must not be empty.');
        }
        names.connectionId = value;
        break;
      case 'permission':
        if (!isConnectionPermission(value)) {
          throw badRequest(
            'invalid-permission',
            `The permission "${value}" is not one of ${CONNECTION_PERMISSIONS.join(', ')}.`,
          );
        }
        names.permission = value;
        break;
    }
  }
  return names;
}

// ---- query ----

export type QueryName =
  'filter' | 'excluded' | 'ttl' | 'reason' | 'targetName' | 'maxPageSize' | 'continuationToken';

const QUERY_NAMES: readonly string[] = [
  'filter',
  'excluded',
  'ttl',
  'reason',
  'targetName',
  'maxPageSize',
  'continuationToken',
] satisfies QueryName[];

/** Query parameters that belong to the host, not to us: the function key. */
const HOST_PARAMETERS = new Set(['code']);

export const MAX_PAGE_SIZE = 200;

export interface PushQuery {
  filter?: string;
  excluded?: string[];
  ttl?: number;
  reason?: string;
  targetName?: string;
  maxPageSize?: number;
  continuationToken?: string;
}

function integerIn(name: string, raw: string, min: number, max: number): number {
  // Digits only: `1e2`, `0x10`, ` 5` and `5.0` are all refused rather than guessed at.
  if (!/^\d{1,6}$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw badRequest(
      `invalid-${name.toLowerCase()}`,
      `The ${name} query parameter must be a whole number from ${min} to ${max}.`,
    );
  }
  return Number(raw);
}

export function parseQuery(url: URL, allowed: readonly QueryName[]): PushQuery {
  const query: PushQuery = {};
  const seen = new Set<string>();
  for (const [name, value] of url.searchParams) {
    if (HOST_PARAMETERS.has(name)) continue;
    if (!QUERY_NAMES.includes(name)) {
      throw badRequest(
        'unknown-query-parameter',
        `The query parameter "${name}" is not known${allowed.length > 0 ? `; this route takes ${allowed.join(', ')}` : '; this route takes none'}.`,
      );
    }
    const known = name as QueryName;
    if (!allowed.includes(known)) {
      throw badRequest(
        'unsupported-query-parameter',
        `This route does not take the query parameter "${name}"${allowed.length > 0 ? `; it takes ${allowed.join(', ')}` : ''}.`,
      );
    }
    if (known !== 'excluded') {
      if (seen.has(name))
        throw badRequest('duplicate-query-parameter', `The query parameter "${name}" is given twice.`);
      seen.add(name);
    }
    switch (known) {
      case 'filter': {
        const problem = filterProblem(value);
        if (problem !== undefined) throw badRequest('invalid-filter', `The filter ${problem}.`);
        query.filter = value;
        break;
      }
      case 'excluded':
        if (!isValidConnectionId(value)) {
          throw badRequest('invalid-excluded', 'An excluded connection id must not be empty.');
        }
        (query.excluded ??= []).push(value);
        break;
      case 'ttl':
        query.ttl = integerIn('ttl', value, 0, MAX_MESSAGE_TTL_SECONDS);
        break;
      case 'reason':
        query.reason = value;
        break;
      case 'targetName': {
        const problem = groupNameProblem(value);
        if (problem !== undefined)
          throw badRequest('invalid-target-name', `The targetName (a group name) ${problem}.`);
        query.targetName = value;
        break;
      }
      case 'maxPageSize':
        query.maxPageSize = integerIn('maxPageSize', value, 1, MAX_PAGE_SIZE);
        break;
      case 'continuationToken':
        if (value === '')
          throw badRequest('invalid-continuation-token', 'The continuationToken must not be empty.');
        query.continuationToken = value;
        break;
    }
  }
  return query;
}

// ---- body ----

export type MessageContentType = 'application/json' | 'text/plain' | 'application/octet-stream';

export interface PushMessage {
  contentType: MessageContentType;
  bytes: Uint8Array;
}

const MESSAGE_TYPES: readonly string[] = ['application/json', 'text/plain', 'application/octet-stream'];

/** The media type the service will get, from the request's Content-Type; 415 for anything it does not take. */
export function messageContentType(header: string | null): MessageContentType {
  if (header === null || header.trim() === '') {
    throw unsupportedMediaType(`A Content-Type is required: one of ${MESSAGE_TYPES.join(', ')}.`);
  }
  const [mediaType = '', ...parameters] = header.split(';').map((part) => part.trim());
  const type = mediaType.toLowerCase();
  if (!MESSAGE_TYPES.includes(type)) {
    throw unsupportedMediaType(`The Content-Type "${mediaType}" is not one of ${MESSAGE_TYPES.join(', ')}.`);
  }
  if (type !== 'application/octet-stream') {
    for (const parameter of parameters) {
      const [name = '', value = ''] = parameter.split('=').map((part) => part.trim());
      // The service reads text and JSON as UTF-8; another charset would arrive as mojibake.
      if (name.toLowerCase() === 'charset' && value.replace(/"/g, '').toLowerCase() !== 'utf-8') {
        throw unsupportedMediaType(`Only UTF-8 is accepted for ${type}, not charset "${value}".`);
      }
    }
  }
  return type as MessageContentType;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** Reads and checks a message body: within 1 MiB (413), UTF-8 for text, well-formed JSON for JSON. */
export async function readMessage(request: CoreRequest): Promise<PushMessage> {
  const contentType = messageContentType(request.headers.get('content-type'));
  const bytes = await request.readBody(MAX_MESSAGE_BYTES);
  if (contentType !== 'application/octet-stream') {
    let text: string;
    try {
      text = strictUtf8.decode(bytes);
    } catch {
      throw badRequest('invalid-utf8', `The ${contentType} body is not valid UTF-8.`);
    }
    if (contentType === 'application/json') {
      try {
        JSON.parse(text);
      } catch {
        throw badRequest('invalid-json', 'The application/json body is not valid JSON.');
      }
    }
  }
  return { contentType, bytes };
}

// ---- tracing ----

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * The id the service call carries as `x-ms-client-request-id`, and every response of ours too: the caller's
 * own when it sent a sensible one (so one id spans its logs, ours and the service's), else a new one.
 */
export function clientRequestId(headers: HeaderSource, generate: () => string): string {
  const presented = headers.get('x-ms-client-request-id')?.trim();
  return presented !== undefined && REQUEST_ID.test(presented) ? presented : generate();
}
