import { MAX_GROUP_NAME_LENGTH, MAX_MESSAGE_BYTES, MAX_MESSAGE_TTL_SECONDS } from '../protocol/names';
import { operationRole, type PushOperation, type PushRole } from './api';
import { MAX_PAGE_SIZE } from './request';

/**
 * The OpenAPI 3.1 description of every HTTP route this app registers: the push and management API, and
 * beside it negotiate, the webhook, health and this document. Written by hand, next to nothing it could be
 * generated from: test/unit/push-openapi.test.ts compares it with the `app.http(...)` registrations (paths,
 * methods, path parameters, function-key auth), so the two cannot drift apart.
 */

export interface OpenApiOptions {
  roles: Record<PushRole, string>;
  /** Whether push routes also need a bearer token (PushApiAudience set). */
  bearer: boolean;
  serviceTimeoutMs: number;
}

type Json = Record<string, unknown>;

const ref = (path: string): Json => ({ $ref: `#/components/${path}` });
const problemContent = { 'application/problem+json': { schema: ref('schemas/Problem') } };

function problem(description: string, headers?: Json): Json {
  return headers === undefined
    ? { description, content: problemContent }
    : { description, headers, content: problemContent };
}

const TRACE_HEADERS = {
  'x-ms-client-request-id': ref('headers/ClientRequestId'),
  'x-ms-request-id': ref('headers/ServiceRequestId'),
};

function components(options: OpenApiOptions): Json {
  const retryAfter = { 'retry-after': ref('headers/RetryAfter'), ...TRACE_HEADERS };
  return {
    securitySchemes: {
      functionKey: {
        type: 'apiKey',
        in: 'header',
        name: 'x-functions-key',
        description: 'A function key of the Function App (checked by the Functions platform).',
      },
      functionKeyQuery: {
        type: 'apiKey',
        in: 'query',
        name: 'code',
        description: 'The function key as ?code=.',
      },
      bearer: {
        type: 'http',
        scheme: 'bearer',
        bearerFormat: 'JWT',
        description:
          'When PushApiAudience is set: a token from Microsoft Entra ID (or the configured OIDC issuer) for that ' +
          `audience, carrying the app role "${options.roles.send}" (send operations) or "${options.roles.manage}" ` +
          '(every other push operation) in its roles claim.',
      },
      negotiateBearer: {
        type: 'http',
        scheme: 'bearer',
        bearerFormat: 'JWT',
        description:
          'Negotiate with NegotiateIdentity=bearer: a token from the configured issuer for NegotiateAudience.',
      },
    },
    parameters: {
      hub: {
        name: 'hub',
        in: 'path',
        required: true,
        description: 'A hub this app serves (compared without case).',
        schema: { type: 'string', pattern: '^[A-Za-z][A-Za-z0-9_`,.[\\]]{0,127}$' },
      },
      userId: {
        name: 'userId',
        in: 'path',
        required: true,
        description: 'A user id (percent-encode `/` and other reserved characters).',
        schema: { type: 'string', minLength: 1 },
      },
      group: {
        name: 'group',
        in: 'path',
        required: true,
        description: 'A group name: 1 to 1024 characters, not blank, no line breaks.',
        schema: { type: 'string', minLength: 1, maxLength: MAX_GROUP_NAME_LENGTH, pattern: '^(?!\\s+$).+$' },
      },
      connectionId: {
        name: 'connectionId',
        in: 'path',
        required: true,
        schema: { type: 'string', minLength: 1 },
      },
      permission: {
        name: 'permission',
        in: 'path',
        required: true,
        schema: { type: 'string', enum: ['joinLeaveGroup', 'sendToGroup'] },
      },
      filter: {
        name: 'filter',
        in: 'query',
        description:
          'An OData filter as the service takes it (`userId`, `connectionId`, `groups`; string values in single ' +
          "quotes with ' doubled, as the SDK's `odata` helper writes them), e.g. `userId ne 'o''neil'`.",
        schema: { type: 'string', minLength: 1 },
      },
      excluded: {
        name: 'excluded',
        in: 'query',
        description: 'A connection id to leave out; repeat the parameter for more.',
        style: 'form',
        explode: true,
        schema: { type: 'array', items: { type: 'string', minLength: 1 } },
      },
      ttl: {
        name: 'ttl',
        in: 'query',
        description:
          'Seconds the message may wait for a reliable-protocol client to take it (0 = no expiry).',
        schema: { type: 'integer', minimum: 0, maximum: MAX_MESSAGE_TTL_SECONDS },
      },
      reason: {
        name: 'reason',
        in: 'query',
        description: 'Told to the clients being closed.',
        schema: { type: 'string' },
      },
      targetName: {
        name: 'targetName',
        in: 'query',
        required: true,
        description: 'The group the permission is about.',
        schema: { type: 'string', minLength: 1, maxLength: MAX_GROUP_NAME_LENGTH },
      },
      maxPageSize: {
        name: 'maxPageSize',
        in: 'query',
        schema: { type: 'integer', minimum: 1, maximum: MAX_PAGE_SIZE },
      },
      continuationToken: {
        name: 'continuationToken',
        in: 'query',
        description: 'From the previous page, to get the next one.',
        schema: { type: 'string', minLength: 1 },
      },
      clientRequestId: {
        name: 'x-ms-client-request-id',
        in: 'header',
        description: 'Your id for this request ([A-Za-z0-9._:-], up to 128); the service call carries it.',
        schema: { type: 'string', pattern: '^[A-Za-z0-9._:-]{1,128}$' },
      },
    },
    headers: {
      ClientRequestId: {
        description: 'The x-ms-client-request-id of the call to Web PubSub (yours, or a new UUID).',
        schema: { type: 'string' },
      },
      ServiceRequestId: {
        description: 'The request id the Web PubSub service answered with, when it sent one.',
        schema: { type: 'string' },
      },
      RetryAfter: {
        description: 'Seconds to wait before trying again.',
        schema: { type: 'integer', minimum: 1 },
      },
    },
    schemas: {
      Problem: {
        type: 'object',
        description: 'RFC 9457 problem details.',
        required: ['type', 'title', 'status', 'detail'],
        properties: {
          type: { type: 'string', description: 'urn:webpubsub-functions:problem:<code>' },
          title: { type: 'string' },
          status: { type: 'integer' },
          detail: { type: 'string' },
        },
      },
      GroupMembers: {
        type: 'object',
        required: ['value'],
        properties: {
          value: {
            type: 'array',
            items: {
              type: 'object',
              required: ['connectionId', 'userId'],
              properties: { connectionId: { type: 'string' }, userId: { type: ['string', 'null'] } },
            },
          },
          continuationToken: { type: 'string', description: 'Present when there are more members.' },
          nextLink: { type: 'string', description: 'This route again, for the next page.' },
        },
      },
      NegotiateResponse: {
        type: 'object',
        required: ['url', 'baseUrl', 'token', 'expiresOn', 'userId', 'hub'],
        properties: {
          url: { type: 'string', description: 'The client access URL: baseUrl with ?access_token=.' },
          baseUrl: { type: 'string' },
          token: { type: 'string', description: 'The client access token (a JWT).' },
          expiresOn: { type: 'string', format: 'date-time' },
          userId: { type: 'string' },
          hub: { type: 'string' },
          groups: { type: 'array', items: { type: 'string' } },
          roles: { type: 'array', items: { type: 'string' } },
        },
      },
    },
    requestBodies: {
      Message: {
        required: true,
        description: `Passed through with its Content-Type; at most ${MAX_MESSAGE_BYTES} bytes. Text and JSON must be UTF-8.`,
        content: {
          'application/json': { schema: {} },
          'text/plain': { schema: { type: 'string' } },
          'application/octet-stream': {
            schema: { type: 'string', contentMediaType: 'application/octet-stream' },
          },
        },
      },
    },
    responses: {
      Accepted: { description: 'The service accepted the message for delivery.', headers: TRACE_HEADERS },
      NoContent: { description: 'Done.', headers: TRACE_HEADERS },
      BadRequest: problem(
        'A name, query parameter or body breaks the service rules (nothing was sent).',
        TRACE_HEADERS,
      ),
      Unauthorized: problem('No valid bearer token (bearer mode); nothing was sent.', TRACE_HEADERS),
      Forbidden: problem('The bearer token lacks the app role this operation needs.', TRACE_HEADERS),
      NotFound: problem(
        'An unknown hub, or the service answered 404 (e.g. no such connection).',
        TRACE_HEADERS,
      ),
      PayloadTooLarge: problem(`The message is larger than ${MAX_MESSAGE_BYTES} bytes.`, TRACE_HEADERS),
      UnsupportedMediaType: problem(
        'Content-Type is not application/json, text/plain or application/octet-stream.',
        TRACE_HEADERS,
      ),
      BadGateway: problem(
        "The service refused this app's credentials, or answered unexpectedly.",
        TRACE_HEADERS,
      ),
      ServiceUnavailable: problem(
        'The service answered 429 or 5xx, or could not be reached (after one retry); see Retry-After.',
        retryAfter,
      ),
      GatewayTimeout: problem(
        `The service did not answer within ${options.serviceTimeoutMs} ms; the operation may or may not have taken effect.`,
        TRACE_HEADERS,
      ),
    },
  };
}

interface PushOperationDoc {
  operation: PushOperation;
  summary: string;
  tag: 'messages' | 'groups' | 'connections' | 'users' | 'permissions';
  query?: string[];
  body?: true;
  /** The success responses, by status. */
  success: Record<string, Json>;
  /** 404 means "no" for exists checks, not an error. */
  head?: true;
  list?: true;
}

function pushOperation(doc: PushOperationDoc, options: OpenApiOptions): Json {
  const role = operationRole(doc.operation);
  const roleName = options.roles[role];
  const security = options.bearer
    ? [
        { functionKey: [], bearer: [roleName] },
        { functionKeyQuery: [], bearer: [roleName] },
      ]
    : [{ functionKey: [] }, { functionKeyQuery: [] }];
  const responses: Json = { ...doc.success };
  const errors: [string, string][] = [
    ['400', 'BadRequest'],
    ['401', 'Unauthorized'],
    ['403', 'Forbidden'],
    ['404', 'NotFound'],
    ...(doc.body
      ? ([
          ['413', 'PayloadTooLarge'],
          ['415', 'UnsupportedMediaType'],
        ] as [string, string][])
      : []),
    ['502', 'BadGateway'],
    ['503', 'ServiceUnavailable'],
    ['504', 'GatewayTimeout'],
  ];
  for (const [status, name] of errors) {
    if (responses[status] === undefined) {
      responses[status] = doc.head
        ? { description: `As ${name}, without a body (HEAD).`, headers: TRACE_HEADERS }
        : ref(`responses/${name}`);
    }
  }
  return {
    operationId: doc.operation,
    tags: [doc.tag],
    summary: doc.summary,
    description:
      `Needs the function key${options.bearer ? ` and a bearer token with the app role "${roleName}"` : ''}. ` +
      `The call to Web PubSub is bounded by ${options.serviceTimeoutMs} ms, one retry included.`,
    'x-required-role': roleName,
    parameters: [
      ...(doc.query ?? []).map((name) => ref(`parameters/${name}`)),
      ref('parameters/clientRequestId'),
    ],
    ...(doc.body ? { requestBody: ref('requestBodies/Message') } : {}),
    responses,
    security,
  };
}

const params = (...names: string[]): Json[] => names.map((name) => ref(`parameters/${name}`));
const accepted = { '202': ref('responses/Accepted') };
const noContent = { '204': ref('responses/NoContent') };
const exists = (what: string): Record<string, Json> => ({
  '200': { description: `${what} exists.`, headers: TRACE_HEADERS },
  '404': { description: `${what} does not exist (or the hub is not served).`, headers: TRACE_HEADERS },
});

export function buildOpenApiDocument(options: OpenApiOptions): Json {
  const op = (doc: PushOperationDoc): Json => pushOperation(doc, options);
  const paths: Json = {
    '/hubs/{hub}/messages': {
      parameters: params('hub'),
      post: op({
        operation: 'sendToAll',
        tag: 'messages',
        summary: 'Send a message to every connection of the hub',
        query: ['filter', 'excluded', 'ttl'],
        body: true,
        success: accepted,
      }),
    },
    '/hubs/{hub}/users/{userId}/messages': {
      parameters: params('hub', 'userId'),
      post: op({
        operation: 'sendToUser',
        tag: 'messages',
        summary: 'Send a message to every connection of a user',
        query: ['filter', 'ttl'],
        body: true,
        success: accepted,
      }),
    },
    '/hubs/{hub}/groups/{group}/messages': {
      parameters: params('hub', 'group'),
      post: op({
        operation: 'sendToGroup',
        tag: 'messages',
        summary: 'Send a message to every connection in a group',
        query: ['filter', 'excluded', 'ttl'],
        body: true,
        success: accepted,
      }),
    },
    '/hubs/{hub}/connections/{connectionId}/messages': {
      parameters: params('hub', 'connectionId'),
      post: op({
        operation: 'sendToConnection',
        tag: 'messages',
        summary: 'Send a message to one connection',
        query: ['ttl'],
        body: true,
        success: accepted,
      }),
    },
    '/hubs/{hub}/groups/{group}/users/{userId}': {
      parameters: params('hub', 'group', 'userId'),
      put: op({
        operation: 'addUserToGroup',
        tag: 'groups',
        summary: "Add a user's connections to a group",
        success: noContent,
      }),
      delete: op({
        operation: 'removeUserFromGroup',
        tag: 'groups',
        summary: 'Remove a user from a group',
        success: noContent,
      }),
    },
    '/hubs/{hub}/groups/{group}/connections/{connectionId}': {
      parameters: params('hub', 'group', 'connectionId'),
      put: op({
        operation: 'addConnectionToGroup',
        tag: 'groups',
        summary: 'Add a connection to a group',
        success: noContent,
      }),
      delete: op({
        operation: 'removeConnectionFromGroup',
        tag: 'groups',
        summary: 'Remove a connection from a group',
        success: noContent,
      }),
    },
    '/hubs/{hub}/connections/{connectionId}': {
      parameters: params('hub', 'connectionId'),
      delete: op({
        operation: 'closeConnection',
        tag: 'connections',
        summary: 'Close a connection',
        query: ['reason'],
        success: noContent,
      }),
      head: op({
        operation: 'connectionExists',
        tag: 'connections',
        summary: 'Whether a connection is connected (200) or not (404)',
        success: exists('The connection'),
        head: true,
      }),
    },
    '/hubs/{hub}/users/{userId}/connections': {
      parameters: params('hub', 'userId'),
      delete: op({
        operation: 'closeUserConnections',
        tag: 'users',
        summary: 'Close every connection of a user',
        query: ['reason', 'excluded'],
        success: noContent,
      }),
      head: op({
        operation: 'userExists',
        tag: 'users',
        summary: 'Whether a user has a connection (200) or not (404)',
        success: exists('A connection of the user'),
        head: true,
      }),
    },
    '/hubs/{hub}/groups/{group}/connections': {
      parameters: params('hub', 'group'),
      delete: op({
        operation: 'closeGroupConnections',
        tag: 'groups',
        summary: 'Close every connection in a group',
        query: ['reason', 'excluded'],
        success: noContent,
      }),
      head: op({
        operation: 'groupExists',
        tag: 'groups',
        summary: 'Whether a group has a connection (200) or not (404)',
        success: exists('A connection in the group'),
        head: true,
      }),
      get: op({
        operation: 'listGroupConnections',
        tag: 'groups',
        summary: 'List the connections in a group, a page at a time',
        query: ['maxPageSize', 'continuationToken'],
        success: {
          '200': {
            description: 'One page of members.',
            headers: TRACE_HEADERS,
            content: { 'application/json': { schema: ref('schemas/GroupMembers') } },
          },
        },
        list: true,
      }),
    },
    '/hubs/{hub}/connections/{connectionId}/permissions/{permission}': {
      parameters: params('hub', 'connectionId', 'permission'),
      put: op({
        operation: 'grantPermission',
        tag: 'permissions',
        summary: 'Grant a connection a permission on a group',
        query: ['targetName'],
        success: noContent,
      }),
      delete: op({
        operation: 'revokePermission',
        tag: 'permissions',
        summary: "Revoke a connection's permission on a group",
        query: ['targetName'],
        success: noContent,
      }),
      head: op({
        operation: 'hasPermission',
        tag: 'permissions',
        summary: 'Whether a connection has a permission on a group (200) or not (404)',
        query: ['targetName'],
        success: exists('The permission'),
        head: true,
      }),
    },
    '/negotiate': negotiatePath(),
    '/webpubsub/events': webhookPath(),
    '/health': {
      get: {
        operationId: 'health',
        tags: ['operations'],
        summary: 'Liveness, with the configured hubs and the service mode',
        security: [{}],
        responses: {
          '200': { description: 'Up.', content: { 'application/json': { schema: { type: 'object' } } } },
          '500': { description: 'Misconfigured.', content: problemContent },
        },
      },
    },
    '/openapi.json': {
      get: {
        operationId: 'openApiDocument',
        tags: ['operations'],
        summary: 'This document',
        security: [{}],
        responses: {
          '200': {
            description: 'OpenAPI 3.1.',
            content: { 'application/json': { schema: { type: 'object' } } },
          },
        },
      },
    },
  };
  return {
    openapi: '3.1.0',
    info: {
      title: 'Web PubSub Functions',
      version: '1.0.0',
      description:
        'Negotiate for browsers, and the push and management API for other servers, in front of Azure Web PubSub. ' +
        'Names, query parameters and bodies are checked against the service rules before any call; errors are ' +
        'application/problem+json; every push response carries x-ms-client-request-id.',
    },
    servers: [{ url: '/api' }],
    tags: [
      { name: 'messages' },
      { name: 'groups' },
      { name: 'users' },
      { name: 'connections' },
      { name: 'permissions' },
      { name: 'negotiate' },
      { name: 'webhook' },
      { name: 'operations' },
    ],
    paths,
    components: components(options),
  };
}

function negotiatePath(): Json {
  const operation = (operationId: string): Json => ({
    operationId,
    tags: ['negotiate'],
    summary: 'A client access URL for the verified caller',
    description:
      'The caller is identified as NegotiateIdentity says (a bearer token, an App Service Authentication ' +
      'session, or anonymous); the token grants only the groups and roles the configuration allows.',
    parameters: [
      { name: 'hub', in: 'query', description: 'Default: WebPubSubHub.', schema: { type: 'string' } },
      {
        name: 'groups',
        in: 'query',
        description: 'Comma-separated groups to join on connect.',
        schema: { type: 'string' },
      },
      {
        name: 'protocol',
        in: 'query',
        schema: { type: 'string', enum: ['default', 'mqtt', 'socketio'], default: 'default' },
      },
    ],
    responses: {
      '200': {
        description: 'Connect to url.',
        content: { 'application/json': { schema: ref('schemas/NegotiateResponse') } },
      },
      '400': { description: 'A bad hub, group or protocol.', content: problemContent },
      '401': { description: 'The caller is not signed in.', content: problemContent },
      '403': { description: 'The caller may not join a requested group.', content: problemContent },
      '404': { description: 'The hub is not served.', content: problemContent },
    },
    security: [{ negotiateBearer: [] }, {}],
  });
  return {
    get: operation('negotiate'),
    post: operation('negotiatePost'),
    options: {
      operationId: 'negotiatePreflight',
      tags: ['negotiate'],
      summary: 'CORS preflight for negotiate (origins from CorsAllowedOrigins)',
      responses: {
        '204': {
          description: 'Allowed (or a plain OPTIONS, answered with Allow).',
          headers: {
            'access-control-allow-origin': { schema: { type: 'string' } },
            'access-control-allow-methods': { schema: { type: 'string' } },
          },
        },
        '403': { description: 'Origin or method not allowed.', content: problemContent },
      },
      security: [{}],
    },
  };
}

function webhookPath(): Json {
  const security = [{ functionKey: [] }, { functionKeyQuery: [] }];
  return {
    options: {
      operationId: 'webhookValidate',
      tags: ['webhook'],
      summary: 'Abuse protection handshake of the Web PubSub service (CloudEvents webhook validation)',
      parameters: [
        { name: 'WebHook-Request-Origin', in: 'header', required: true, schema: { type: 'string' } },
      ],
      responses: {
        '200': {
          description: 'The origin is allowed.',
          headers: { 'WebHook-Allowed-Origin': { schema: { type: 'string' } } },
        },
        '400': { description: 'No origin.', content: problemContent },
        '403': { description: 'Origin not allowed.', content: problemContent },
      },
      security,
    },
    post: {
      operationId: 'webhookEvent',
      tags: ['webhook'],
      summary:
        'A CloudEvents event from the Web PubSub service (connect, user events, connected, disconnected)',
      description:
        'For the Web PubSub service only: binary-mode CloudEvents with ce-* headers and ce-signature.',
      responses: {
        '200': { description: 'The event handled, with a reply body.' },
        '204': { description: 'The event handled.' },
        '400': { description: 'A malformed event.', content: problemContent },
        '401': { description: 'Not signed by the service.', content: problemContent },
        '403': { description: 'Origin not allowed.', content: problemContent },
        '404': { description: 'Hub not served.', content: problemContent },
        '413': { description: 'Body too large.', content: problemContent },
        '415': { description: 'Unsupported content type.', content: problemContent },
      },
      security,
    },
  };
}
