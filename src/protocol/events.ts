import { badRequest, invalidHeader, missingHeader, ProblemError, unsupportedMediaType } from './errors';
import { CloudEventHeader, decodeUtf8HeaderValue, type HeaderSource } from './headers';
import { isValidGroupName, isValidHubName } from './names';

/** What a CloudEvents request to the webhook is about, decided from `ce-type` alone. */
export type EventKind = 'connect' | 'connected' | 'disconnected' | 'user';

const SYSTEM_TYPES: Readonly<Record<string, EventKind>> = {
  'azure.webpubsub.sys.connect': 'connect',
  'azure.webpubsub.sys.connected': 'connected',
  'azure.webpubsub.sys.disconnected': 'disconnected',
};
const USER_PREFIX = 'azure.webpubsub.user.';
const MAX_EVENT_NAME_LENGTH = 128;
const MAX_ID_LENGTH = 1024;
// Control characters and separators have no place in an event name the service could have produced.
const EVENT_NAME = /^[^\s\p{Cc}]+$/u;

export interface EventType {
  kind: EventKind;
  /** connect / connected / disconnected, or the user event's name. */
  eventName: string;
}

export function classifyEventType(ceType: string): EventType | undefined {
  const system = SYSTEM_TYPES[ceType];
  if (system) return { kind: system, eventName: system };
  if (!ceType.startsWith(USER_PREFIX)) return undefined;
  const eventName = ceType.slice(USER_PREFIX.length);
  if (eventName.length === 0 || eventName.length > MAX_EVENT_NAME_LENGTH || !EVENT_NAME.test(eventName)) {
    return undefined;
  }
  return { kind: 'user', eventName };
}

export type ClientProtocol = 'default' | 'mqtt';

/** Everything the headers of an event request say, checked before any body byte is read. */
export interface EventHeaders {
  type: EventType;
  id: string;
  hub: string;
  connectionId: string;
  userId: string | undefined;
  subprotocol: string | undefined;
  origin: string;
  clientProtocol: ClientProtocol;
  mqtt: { physicalConnectionId: string; sessionId: string | undefined } | undefined;
  signature: string | null;
  connectionState: string | null;
  time: string | undefined;
}

function required(headers: HeaderSource, name: string): string {
  const value = headers.get(name);
  if (value === null || value.trim() === '') throw missingHeader(name);
  return value;
}

function optional(headers: HeaderSource, name: string): string | undefined {
  const value = headers.get(name);
  return value === null || value === '' ? undefined : value;
}

/** Classifies an event request and checks the syntax of its headers; no body byte is needed. */
export function parseEventHeaders(headers: HeaderSource): EventHeaders {
  const specVersion = required(headers, CloudEventHeader.specVersion);
  if (specVersion.trim() !== '1.0') throw invalidHeader(CloudEventHeader.specVersion, 'must be 1.0');
  // The service sends ce-awpsversion, but the documentation's examples omit it: check it only when present.
  const awpsVersion = headers.get(CloudEventHeader.awpsVersion);
  if (awpsVersion !== null && awpsVersion.trim() !== '1.0') {
    throw invalidHeader(CloudEventHeader.awpsVersion, 'must be 1.0');
  }
  const origin = required(headers, CloudEventHeader.requestOrigin);

  const ceType = required(headers, CloudEventHeader.type);
  const type = classifyEventType(ceType);
  if (!type) {
    throw new ProblemError(
      400,
      'unknown-event-type',
      'Unknown event type',
      'The ce-type header must be azure.webpubsub.sys.connect, azure.webpubsub.sys.connected, ' +
        'azure.webpubsub.sys.disconnected or azure.webpubsub.user.<event name>.',
    );
  }

  const hub = required(headers, CloudEventHeader.hub);
  if (!isValidHubName(hub)) throw invalidHeader(CloudEventHeader.hub, 'is not a valid hub name');

  const connectionId = required(headers, CloudEventHeader.connectionId);
  if (connectionId.length > MAX_ID_LENGTH) {
    throw invalidHeader(CloudEventHeader.connectionId, `is longer than ${MAX_ID_LENGTH} characters`);
  }
  const id = required(headers, CloudEventHeader.id);
  if (id.length > MAX_ID_LENGTH)
    throw invalidHeader(CloudEventHeader.id, `is longer than ${MAX_ID_LENGTH} characters`);

  const rawUserId = optional(headers, CloudEventHeader.userId);
  const subprotocol = optional(headers, CloudEventHeader.subprotocol);
  const physicalConnectionId = optional(headers, CloudEventHeader.physicalConnectionId);
  const isMqtt =
    subprotocol !== undefined && subprotocol.toLowerCase().includes('mqtt') && !!physicalConnectionId;

  return {
    type,
    id,
    hub,
    connectionId,
    userId: rawUserId === undefined ? undefined : decodeUtf8HeaderValue(rawUserId),
    subprotocol,
    origin,
    clientProtocol: isMqtt ? 'mqtt' : 'default',
    mqtt: isMqtt
      ? {
          physicalConnectionId: physicalConnectionId,
          sessionId: optional(headers, CloudEventHeader.sessionId),
        }
      : undefined,
    signature: headers.get(CloudEventHeader.signature),
    connectionState: headers.get(CloudEventHeader.connectionState),
    time: optional(headers, CloudEventHeader.time),
  };
}

// ---------------------------------------------------------------------------------------------------------
// Bodies

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

export function decodeUtf8(body: Uint8Array, what: string): string {
  try {
    return strictUtf8.decode(body);
  } catch {
    throw badRequest('invalid-encoding', `The ${what} is not valid UTF-8.`);
  }
}

export function parseJson(body: Uint8Array, what: string): unknown {
  const text = decodeUtf8(body, what);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw badRequest('invalid-json', `The ${what} is not valid JSON.`);
  }
}

export type DataType = 'text' | 'json' | 'binary';

export const CONTENT_TYPE_OF: Readonly<Record<DataType, string>> = {
  text: 'text/plain; charset=utf-8',
  json: 'application/json; charset=utf-8',
  binary: 'application/octet-stream',
};

// The exact header values the service and the SDKs send: every user event skips the general parse below.
const COMMON_CONTENT_TYPES: ReadonlyMap<string, DataType> = new Map<string, DataType>([
  ['text/plain', 'text'],
  ['application/json', 'json'],
  ['application/octet-stream', 'binary'],
  ...Object.entries(CONTENT_TYPE_OF).map(([dataType, value]) => [value, dataType as DataType] as const),
]);

/**
 * User-event payload type from Content-Type: text/plain, application/json or application/octet-stream, with
 * an optional charset that must be UTF-8 for the textual ones.
 */
export function dataTypeOfContentType(contentType: string | null): DataType {
  const common = contentType === null ? undefined : COMMON_CONTENT_TYPES.get(contentType);
  if (common !== undefined) return common;
  if (contentType === null || contentType.trim() === '') {
    throw unsupportedMediaType(
      'A user event needs a Content-Type: text/plain, application/json or application/octet-stream.',
    );
  }
  const [media = '', ...parameters] = contentType.split(';');
  const mediaType = media.trim().toLowerCase();
  const dataType: DataType | undefined =
    mediaType === 'text/plain'
      ? 'text'
      : mediaType === 'application/json'
        ? 'json'
        : mediaType === 'application/octet-stream'
          ? 'binary'
          : undefined;
  if (!dataType) {
    throw unsupportedMediaType(
      `Content-Type "${mediaType}" is not supported; use text/plain, application/json or application/octet-stream.`,
    );
  }
  for (const parameter of parameters) {
    const [name = '', value = ''] = parameter.split('=');
    if (name.trim().toLowerCase() !== 'charset' || dataType === 'binary') continue;
    const charset = value.trim().replace(/^"|"$/g, '').toLowerCase();
    if (charset !== 'utf-8' && charset !== 'utf8') {
      throw unsupportedMediaType(`charset "${charset}" is not supported; user events are UTF-8.`);
    }
  }
  return dataType;
}

export type StringListMap = Record<string, string[]>;

export interface ClientCertificate {
  thumbprint: string;
  content: string | undefined;
}

export interface MqttConnectProperties {
  protocolVersion: number;
  username: string | undefined;
  password: string | undefined;
  userProperties: { name: string; value: string }[];
}

/** The JSON body of a connect event (claims, query, headers, subprotocols, client certificates). */
export interface ConnectEventBody {
  claims: StringListMap;
  query: StringListMap;
  headers: StringListMap;
  subprotocols: string[];
  clientCertificates: ClientCertificate[];
  mqtt: MqttConnectProperties | undefined;
}

const invalidBody = (detail: string): ProblemError => badRequest('invalid-body', detail);

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function isStringArray(value: unknown): value is string[] {
  if (!Array.isArray(value)) return false;
  for (const item of value) if (typeof item !== 'string') return false;
  return true;
}

/**
 * A prototype-free copy, so a hook looking up a client-chosen name (`query[name]`) never reaches
 * Object.prototype. Plain loops: this runs on every connect.
 */
function stringListMap(value: unknown, field: string): StringListMap {
  const result = Object.create(null) as StringListMap;
  if (value === undefined || value === null) return result;
  if (!isRecord(value)) throw invalidBody(`"${field}" must be an object of string arrays.`);
  for (const key in value) {
    const entry = value[key];
    // A single string is what some producers send for a one-valued claim; it means the same thing.
    if (typeof entry === 'string') result[key] = [entry];
    else if (isStringArray(entry)) result[key] = entry;
    else throw invalidBody(`"${field}.${key}" must be a string or an array of strings.`);
  }
  return result;
}

function stringList(value: unknown, field: string): string[] {
  if (value === undefined || value === null) return [];
  if (!isStringArray(value)) {
    throw invalidBody(`"${field}" must be an array of strings.`);
  }
  return value;
}

function certificates(value: unknown): ClientCertificate[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw invalidBody('"clientCertificates" must be an array.');
  return value.map((entry, index) => {
    if (!isRecord(entry) || typeof entry.thumbprint !== 'string') {
      throw invalidBody(`"clientCertificates[${index}].thumbprint" must be a string.`);
    }
    if (entry.content !== undefined && entry.content !== null && typeof entry.content !== 'string') {
      throw invalidBody(`"clientCertificates[${index}].content" must be a string.`);
    }
    return {
      thumbprint: entry.thumbprint,
      content: typeof entry.content === 'string' ? entry.content : undefined,
    };
  });
}

function mqttProperties(value: unknown): MqttConnectProperties | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isRecord(value)) throw invalidBody('"mqtt" must be an object.');
  const { protocolVersion, username, password, userProperties } = value;
  if (protocolVersion !== 4 && protocolVersion !== 5)
    throw invalidBody('"mqtt.protocolVersion" must be 4 or 5.');
  if (username !== undefined && username !== null && typeof username !== 'string') {
    throw invalidBody('"mqtt.username" must be a string.');
  }
  if (password !== undefined && password !== null && typeof password !== 'string') {
    throw invalidBody('"mqtt.password" must be a string.');
  }
  const properties: { name: string; value: string }[] = [];
  if (userProperties !== undefined && userProperties !== null) {
    if (!Array.isArray(userProperties)) throw invalidBody('"mqtt.userProperties" must be an array.');
    userProperties.forEach((entry: unknown, index) => {
      if (!isRecord(entry) || typeof entry.name !== 'string' || typeof entry.value !== 'string') {
        throw invalidBody(`"mqtt.userProperties[${index}]" must have string name and value.`);
      }
      properties.push({ name: entry.name, value: entry.value });
    });
  }
  return {
    protocolVersion,
    username: typeof username === 'string' ? username : undefined,
    password: typeof password === 'string' ? password : undefined,
    userProperties: properties,
  };
}

export function parseConnectBody(body: Uint8Array): ConnectEventBody {
  const json = parseJson(body, 'connect event body');
  if (!isRecord(json)) throw invalidBody('The connect event body must be a JSON object.');
  return {
    claims: stringListMap(json.claims, 'claims'),
    query: stringListMap(json.query, 'query'),
    headers: stringListMap(json.headers, 'headers'),
    subprotocols: stringList(json.subprotocols, 'subprotocols'),
    clientCertificates: certificates(json.clientCertificates),
    mqtt: mqttProperties(json.mqtt),
  };
}

/** connected carries `{}` and disconnected `{"reason": ...}`; both are JSON objects. */
export function parseSystemEventBody(body: Uint8Array, eventName: string): Record<string, unknown> {
  const json = parseJson(body, `${eventName} event body`);
  if (!isRecord(json)) throw invalidBody(`The ${eventName} event body must be a JSON object.`);
  return json;
}

export function disconnectReason(body: Record<string, unknown>): string | undefined {
  const { reason } = body;
  if (reason === undefined || reason === null) return undefined;
  if (typeof reason !== 'string') throw invalidBody('"reason" must be a string.');
  return reason;
}

// ---------------------------------------------------------------------------------------------------------
// Connect response

export interface ConnectResult {
  userId?: string;
  groups?: string[];
  roles?: string[];
  subprotocol?: string;
}

/**
 * Checks what a connect hook decided before it goes on the wire: the service would fail the handshake on an
 * empty or unoffered subprotocol, and a blank group or role is never what the application meant.
 * Throws a plain Error (a server-side fault), never a client-facing problem.
 */
export function connectResponseBody(result: ConnectResult, offeredSubprotocols: readonly string[]): string {
  const body: ConnectResult = {};
  if (result.userId !== undefined) {
    if (
      typeof result.userId !== 'string' ||
      result.userId.length === 0 ||
      result.userId.length > MAX_ID_LENGTH
    ) {
      throw new Error('connect result: userId must be a non-empty string of at most 1024 characters');
    }
    body.userId = result.userId;
  }
  if (result.groups !== undefined) {
    if (
      !Array.isArray(result.groups) ||
      !result.groups.every((g) => typeof g === 'string' && isValidGroupName(g))
    ) {
      throw new Error(
        'connect result: every group must be a valid group name (1-1024 characters, not blank)',
      );
    }
    body.groups = [...result.groups];
  }
  if (result.roles !== undefined) {
    if (
      !Array.isArray(result.roles) ||
      !result.roles.every((r) => typeof r === 'string' && r.trim().length > 0)
    ) {
      throw new Error('connect result: every role must be a non-empty string');
    }
    body.roles = [...result.roles];
  }
  if (result.subprotocol !== undefined) {
    if (typeof result.subprotocol !== 'string' || result.subprotocol.length === 0) {
      throw new Error('connect result: subprotocol must be omitted rather than empty');
    }
    if (!offeredSubprotocols.includes(result.subprotocol)) {
      throw new Error(`connect result: subprotocol "${result.subprotocol}" was not offered by the client`);
    }
    body.subprotocol = result.subprotocol;
  }
  return JSON.stringify(body);
}

export type ConnectRejectionStatus = 400 | 401 | 403 | 500;

/**
 * MQTT clients learn why a connect failed from a CONNACK code, carried as `{"mqtt":{"code","reason"}}`.
 * Codes as @azure/web-pubsub-express maps them (3.1.1 return codes; 5.0 reason codes).
 */
export function mqttConnectFailureBody(status: number, protocolVersion: number, reason: string): string {
  let code: number;
  if (protocolVersion === 5) {
    code = status === 400 ? 0x86 : status === 401 || status === 403 ? 0x87 : 0x80;
  } else {
    code = status === 400 ? 4 : status === 401 || status === 403 ? 5 : 3;
  }
  return JSON.stringify({ mqtt: { code, reason } });
}
