import type {
  GroupListConnectionsOptions,
  HasConnectionOptions,
  HubCloseUserConnectionsOptions,
  GroupCloseAllConnectionsOptions,
  WebPubSubServiceClient,
} from '@azure/web-pubsub';
import { randomUUID } from 'node:crypto';
import { describeError, problemResponse } from '../http/problem';
import type { CoreRequest, CoreResponse, Logger } from '../http/types';
import { badRequest, ProblemError } from '../protocol/errors';
import { serviceProblem, serviceRequestIdOf, serviceStatusOf } from '../service/errors';
import { serviceDeadline } from '../service/resilience';
import type { ServiceClients } from '../service/clients';
import type { PushAuthorizer } from './authorization';
import {
  clientRequestId,
  parseNames,
  parseQuery,
  readMessage,
  type NameKind,
  type PushMessage,
  type PushNames,
  type PushQuery,
  type QueryName,
} from './request';

/**
 * The push and management API for other servers: each operation checks the caller, then every name, query
 * parameter and body against the service's rules, and only then calls the service once (with at most one
 * retry, all within the configured time budget). Host-agnostic: a request shape in, a response shape out.
 */

export const PUSH_OPERATIONS = [
  'sendToAll',
  'sendToUser',
  'sendToGroup',
  'sendToConnection',
  'addUserToGroup',
  'removeUserFromGroup',
  'addConnectionToGroup',
  'removeConnectionFromGroup',
  'closeConnection',
  'connectionExists',
  'closeUserConnections',
  'userExists',
  'closeGroupConnections',
  'groupExists',
  'listGroupConnections',
  'grantPermission',
  'revokePermission',
  'hasPermission',
] as const;

export type PushOperation = (typeof PUSH_OPERATIONS)[number];

/** What each operation needs: `send` operations deliver messages, `manage` ones change or read membership. */
export type PushRole = 'send' | 'manage';

type CallOptions = HasConnectionOptions;

interface Call {
  client: WebPubSubServiceClient;
  names: PushNames;
  query: PushQuery;
  message: PushMessage | undefined;
  options: CallOptions;
  url: URL;
}

interface OperationSpec {
  role: PushRole;
  names: readonly NameKind[];
  query: readonly QueryName[];
  requiredQuery?: readonly QueryName[];
  body?: true;
  call(call: Call): Promise<CoreResponse>;
}

const ACCEPTED: CoreResponse = { status: 202 };
const NO_CONTENT: CoreResponse = { status: 204 };

function existence(exists: boolean): CoreResponse {
  return { status: exists ? 200 : 404 };
}

/**
 * The message bytes go to the service exactly as they came, with their own content type. The SDK would
 * re-serialize JSON (losing big-number precision and changing bytes) and re-encode text, so the body is
 * given as bytes and the content type set through the operation's custom headers, which the SDK applies
 * after its own.
 */
function messageOptions({ message, options }: Call): CallOptions {
  const contentType = (message as PushMessage).contentType;
  return {
    ...options,
    requestOptions: {
      ...options.requestOptions,
      customHeaders: { ...options.requestOptions?.customHeaders, 'content-type': contentType },
    },
  };
}

function bytes(call: Call): Uint8Array {
  return (call.message as PushMessage).bytes;
}

/** The REST close operations take `excluded`; the generated client sends it, though the SDK's option types omit it. */
type CloseOptions = HubCloseUserConnectionsOptions &
  GroupCloseAllConnectionsOptions & { excluded?: string[] };

function closeOptions({ options, query }: Call): CloseOptions {
  return { ...options, reason: query.reason, excluded: query.excluded };
}

/** The service's `continuationToken` from its nextLink, which our caller sends back to get the next page. */
function continuationTokenOf(nextLink: string): string {
  const url = new URL(nextLink, 'https://service.invalid');
  for (const [name, value] of url.searchParams) {
    if (name.toLowerCase() === 'continuationtoken' && value !== '') return value;
  }
  throw new ProblemError(
    502,
    'service-error',
    'Bad gateway',
    'The Web PubSub service answered a next page link without a continuation token.',
  );
}

async function listGroupConnections(call: Call): Promise<CoreResponse> {
  const { client, names, query, options } = call;
  let nextLink: string | undefined;
  const listOptions: GroupListConnectionsOptions = {
    ...options,
    maxPageSize: query.maxPageSize,
    continuationToken: query.continuationToken,
    onResponse(raw, flat, error) {
      options.onResponse?.(raw, flat, error);
      const link = (flat as { nextLink?: unknown } | undefined)?.nextLink;
      nextLink = typeof link === 'string' && link !== '' ? link : undefined;
    },
  };
  // One page per request: the caller pages with continuationToken, so each call stays within the time budget.
  const pages = (await client.group(names.group as string).listConnections(listOptions)).byPage();
  const page = await pages.next();
  const members = page.done === true ? [] : page.value;
  const body: Record<string, unknown> = {
    value: members.map((member) => ({ connectionId: member.connectionId, userId: member.userId ?? null })),
  };
  if (nextLink !== undefined) {
    const token = continuationTokenOf(nextLink);
    const next = new URL(call.url.pathname, call.url);
    next.searchParams.set('continuationToken', token);
    if (query.maxPageSize !== undefined) next.searchParams.set('maxPageSize', String(query.maxPageSize));
    body.continuationToken = token;
    body.nextLink = `${next.pathname}${next.search}`;
  }
  return {
    status: 200,
    headers: { 'content-type': 'application/json; charset=utf-8' },
    body: JSON.stringify(body),
  };
}

const OPERATIONS: Record<PushOperation, OperationSpec> = {
  sendToAll: {
    role: 'send',
    names: [],
    query: ['filter', 'excluded', 'ttl'],
    body: true,
    async call(call) {
      await call.client.sendToAll(bytes(call), {
        ...messageOptions(call),
        filter: call.query.filter,
        excludedConnections: call.query.excluded,
        messageTtlSeconds: call.query.ttl,
      });
      return ACCEPTED;
    },
  },
  sendToUser: {
    role: 'send',
    names: ['userId'],
    query: ['filter', 'ttl'],
    body: true,
    async call(call) {
      await call.client.sendToUser(call.names.userId as string, bytes(call), {
        ...messageOptions(call),
        filter: call.query.filter,
        messageTtlSeconds: call.query.ttl,
      });
      return ACCEPTED;
    },
  },
  sendToGroup: {
    role: 'send',
    names: ['group'],
    query: ['filter', 'excluded', 'ttl'],
    body: true,
    async call(call) {
      await call.client.group(call.names.group as string).sendToAll(bytes(call), {
        ...messageOptions(call),
        filter: call.query.filter,
        excludedConnections: call.query.excluded,
        messageTtlSeconds: call.query.ttl,
      });
      return ACCEPTED;
    },
  },
  sendToConnection: {
    role: 'send',
    names: ['connectionId'],
    query: ['ttl'],
    body: true,
    async call(call) {
      await call.client.sendToConnection(call.names.connectionId as string, bytes(call), {
        ...messageOptions(call),
        messageTtlSeconds: call.query.ttl,
      });
      return ACCEPTED;
    },
  },
  addUserToGroup: {
    role: 'manage',
    names: ['group', 'userId'],
    query: [],
    async call({ client, names, options }) {
      await client.group(names.group as string).addUser(names.userId as string, options);
      return NO_CONTENT;
    },
  },
  removeUserFromGroup: {
    role: 'manage',
    names: ['group', 'userId'],
    query: [],
    async call({ client, names, options }) {
      await client.group(names.group as string).removeUser(names.userId as string, options);
      return NO_CONTENT;
    },
  },
  addConnectionToGroup: {
    role: 'manage',
    names: ['group', 'connectionId'],
    query: [],
    async call({ client, names, options }) {
      await client.group(names.group as string).addConnection(names.connectionId as string, options);
      return NO_CONTENT;
    },
  },
  removeConnectionFromGroup: {
    role: 'manage',
    names: ['group', 'connectionId'],
    query: [],
    async call({ client, names, options }) {
      await client.group(names.group as string).removeConnection(names.connectionId as string, options);
      return NO_CONTENT;
    },
  },
  closeConnection: {
    role: 'manage',
    names: ['connectionId'],
    query: ['reason'],
    async call(call) {
      await call.client.closeConnection(call.names.connectionId as string, {
        ...call.options,
        reason: call.query.reason,
      });
      return NO_CONTENT;
    },
  },
  connectionExists: {
    role: 'manage',
    names: ['connectionId'],
    query: [],
    async call({ client, names, options }) {
      return existence(await client.connectionExists(names.connectionId as string, options));
    },
  },
  closeUserConnections: {
    role: 'manage',
    names: ['userId'],
    query: ['reason', 'excluded'],
    async call(call) {
      await call.client.closeUserConnections(call.names.userId as string, closeOptions(call));
      return NO_CONTENT;
    },
  },
  userExists: {
    role: 'manage',
    names: ['userId'],
    query: [],
    async call({ client, names, options }) {
      return existence(await client.userExists(names.userId as string, options));
    },
  },
  closeGroupConnections: {
    role: 'manage',
    names: ['group'],
    query: ['reason', 'excluded'],
    async call(call) {
      await call.client.group(call.names.group as string).closeAllConnections(closeOptions(call));
      return NO_CONTENT;
    },
  },
  groupExists: {
    role: 'manage',
    names: ['group'],
    query: [],
    async call({ client, names, options }) {
      return existence(await client.groupExists(names.group as string, options));
    },
  },
  listGroupConnections: {
    role: 'manage',
    names: ['group'],
    query: ['maxPageSize', 'continuationToken'],
    call: listGroupConnections,
  },
  grantPermission: {
    role: 'manage',
    names: ['connectionId', 'permission'],
    query: ['targetName'],
    requiredQuery: ['targetName'],
    async call({ client, names, query, options }) {
      await client.grantPermission(names.connectionId as string, names.permission as 'sendToGroup', {
        ...options,
        targetName: query.targetName,
      });
      return NO_CONTENT;
    },
  },
  revokePermission: {
    role: 'manage',
    names: ['connectionId', 'permission'],
    query: ['targetName'],
    requiredQuery: ['targetName'],
    async call({ client, names, query, options }) {
      await client.revokePermission(names.connectionId as string, names.permission as 'sendToGroup', {
        ...options,
        targetName: query.targetName,
      });
      return NO_CONTENT;
    },
  },
  hasPermission: {
    role: 'manage',
    names: ['connectionId', 'permission'],
    query: ['targetName'],
    requiredQuery: ['targetName'],
    async call({ client, names, query, options }) {
      const granted = await client.hasPermission(
        names.connectionId as string,
        names.permission as 'sendToGroup',
        {
          ...options,
          targetName: query.targetName,
        },
      );
      return existence(granted);
    },
  },
};

/** Which role an operation needs, for the OpenAPI document and tests. */
export function operationRole(operation: PushOperation): PushRole {
  return OPERATIONS[operation].role;
}

export interface PushApiOptions {
  /** Hubs this app serves; a push to another hub is 404. */
  hubs: readonly string[];
  clients: Pick<ServiceClients, 'forHub'>;
  authorizer: PushAuthorizer;
  /** App role values of the two role kinds (bearer mode). */
  roles: Record<PushRole, string>;
  /** The budget of one service call (see src/service/resilience.ts); the SDK clients must be built with it. */
  serviceTimeoutMs: number;
  newRequestId?: () => string;
}

export type PushHandler = (request: CoreRequest, log: Logger) => Promise<CoreResponse>;
export type PushApi = Record<PushOperation, PushHandler>;

export function createPushApi(options: PushApiOptions): PushApi {
  const newRequestId = options.newRequestId ?? randomUUID;
  const timeoutMs = options.serviceTimeoutMs;

  async function callService(
    operation: PushOperation,
    spec: OperationSpec,
    request: CoreRequest,
    requestId: string,
    trace: { serviceRequestId: string | undefined },
    log: Logger,
  ): Promise<CoreResponse> {
    await options.authorizer.authorize(request, options.roles[spec.role]);
    const url = new URL(request.url);
    const names = parseNames(request, spec.names, options.hubs);
    const query = parseQuery(url, spec.query);
    for (const name of spec.requiredQuery ?? []) {
      if (query[name] === undefined) {
        throw badRequest(`missing-${name.toLowerCase()}`, `The ${name} query parameter is required.`);
      }
    }
    const message = spec.body === true ? await readMessage(request) : undefined;
    const client = await options.clients.forHub(names.hub);

    const deadline = serviceDeadline(timeoutMs);
    const callOptions: CallOptions = {
      abortSignal: deadline.signal,
      requestOptions: { customHeaders: { 'x-ms-client-request-id': requestId } },
      onResponse(raw) {
        trace.serviceRequestId = raw.headers.get('x-ms-request-id') ?? trace.serviceRequestId;
      },
    };
    try {
      return await spec.call({ client, names, query, message, options: callOptions, url });
    } catch (error) {
      trace.serviceRequestId ??= serviceRequestIdOf(error);
      const problem =
        error instanceof ProblemError
          ? error
          : serviceProblem(error, { timedOut: deadline.signal.aborted, timeoutMs });
      if (problem === undefined) throw error;
      const fields = {
        operation,
        hub: names.hub,
        clientRequestId: requestId,
        serviceRequestId: trace.serviceRequestId,
        serviceStatus: serviceStatusOf(error),
        status: problem.status,
        // Bounded: a failed call's message can hold a whole error page of a proxy.
        error: describeError(error).slice(0, 2000),
      };
      if (problem.status >= 500) log.error('service call failed', fields);
      else log.warn('service refused the call', fields);
      return problemResponse(problem);
    } finally {
      deadline.dispose();
    }
  }

  function handler(operation: PushOperation): PushHandler {
    const spec = OPERATIONS[operation];
    return async (request, log) => {
      const requestId = clientRequestId(request.headers, newRequestId);
      const trace = { serviceRequestId: undefined as string | undefined };
      let response: CoreResponse;
      try {
        response = await callService(operation, spec, request, requestId, trace, log);
      } catch (error) {
        response = problemResponse(error, log, { operation, clientRequestId: requestId });
      }
      const headers: Record<string, string> = {
        ...response.headers,
        'cache-control': 'no-store',
        'x-ms-client-request-id': requestId,
      };
      if (trace.serviceRequestId !== undefined) headers['x-ms-request-id'] = trace.serviceRequestId;
      return request.method.toUpperCase() === 'HEAD'
        ? { status: response.status, headers }
        : { ...response, headers };
    };
  }

  const api = {} as PushApi;
  for (const operation of PUSH_OPERATIONS) api[operation] = handler(operation);
  return api;
}
