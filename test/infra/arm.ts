import { createHash } from 'node:crypto';

/**
 * Enough of Azure Resource Manager to read the compiled infra/main.bicep as a deployment would: parameters with
 * their defaults, variables, conditions, copy loops, nested deployments (Bicep modules) with their own parameters
 * and outputs, and reference() answered with stand-ins derived from the resource's type and name.
 *
 * It knows a fixed set of template functions and throws on any other, so a template that needs more fails loudly
 * rather than being half read. list*() always throws: nothing these tests evaluate may read a secret.
 */

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = Record<string, Json>;

export interface DeploymentContext {
  subscriptionId: string;
  tenantId: string;
  location: string;
  deploymentName: string;
  /** What utcNow() and newGuid() return: two deployments with different values must still agree on names. */
  utcNow: string;
  newGuid: string;
}

export class SecretReadError extends Error {}

// ------------------------------------------------------------------------------------------------------------------
// Expressions
// ------------------------------------------------------------------------------------------------------------------

type Node =
  | { kind: 'literal'; value: Json }
  | { kind: 'call'; name: string; args: Node[] }
  | { kind: 'member'; target: Node; name: string }
  | { kind: 'index'; target: Node; index: Node };

type Token = { kind: 'string' | 'number' | 'name' | 'punct'; text: string };

export function isExpression(value: string): boolean {
  return value.startsWith('[') && value.endsWith(']') && !value.startsWith('[[');
}

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text.charAt(i);
    if (/\s/.test(c)) {
      i++;
    } else if (c === "'") {
      let value = '';
      i++;
      for (;;) {
        if (i >= text.length) throw new Error(`Unterminated string in ${text}`);
        if (text.charAt(i) === "'") {
          if (text.charAt(i + 1) === "'") {
            value += "'";
            i += 2;
            continue;
          }
          i++;
          break;
        }
        value += text.charAt(i++);
      }
      tokens.push({ kind: 'string', text: value });
    } else if (/[0-9-]/.test(c)) {
      const match = /^-?\d+(\.\d+)?/.exec(text.slice(i));
      if (match === null) throw new Error(`Bad number in ${text} at ${i}`);
      tokens.push({ kind: 'number', text: match[0] });
      i += match[0].length;
    } else if (/[A-Za-z_$]/.test(c)) {
      const match = /^[A-Za-z_$][A-Za-z0-9_$]*/.exec(text.slice(i)) as RegExpExecArray;
      tokens.push({ kind: 'name', text: match[0] });
      i += match[0].length;
    } else if ('(),.[]'.includes(c)) {
      tokens.push({ kind: 'punct', text: c });
      i++;
    } else {
      throw new Error(`Unexpected ${JSON.stringify(c)} in ${text}`);
    }
  }
  return tokens;
}

export function parseExpression(text: string): Node {
  const tokens = tokenize(text);
  let position = 0;
  const peek = () => tokens[position];
  const expect = (punct: string) => {
    const token = tokens[position++];
    if (token?.kind !== 'punct' || token.text !== punct) throw new Error(`Expected ${punct} in ${text}`);
  };

  function primary(): Node {
    const token = tokens[position++];
    if (token === undefined) throw new Error(`Unexpected end of ${text}`);
    if (token.kind === 'string') return { kind: 'literal', value: token.text };
    if (token.kind === 'number') return { kind: 'literal', value: Number(token.text) };
    if (token.kind === 'name') {
      if (peek()?.text !== '(') {
        if (token.text === 'true' || token.text === 'false')
          return { kind: 'literal', value: token.text === 'true' };
        if (token.text === 'null') return { kind: 'literal', value: null };
        throw new Error(`Bare name ${token.text} in ${text}`);
      }
      expect('(');
      const args: Node[] = [];
      if (peek()?.text !== ')') {
        for (;;) {
          args.push(expression());
          if (peek()?.text === ',') {
            position++;
            continue;
          }
          break;
        }
      }
      expect(')');
      return { kind: 'call', name: token.text, args };
    }
    throw new Error(`Unexpected ${token.text} in ${text}`);
  }

  function expression(): Node {
    let node = primary();
    for (;;) {
      const next = peek();
      if (next?.text === '.') {
        position++;
        const name = tokens[position++];
        if (name?.kind !== 'name') throw new Error(`Expected a property name in ${text}`);
        node = { kind: 'member', target: node, name: name.text };
      } else if (next?.text === '[') {
        position++;
        const index = expression();
        expect(']');
        node = { kind: 'index', target: node, index };
      } else {
        return node;
      }
    }
  }

  const node = expression();
  if (position !== tokens.length) throw new Error(`Trailing input in ${text}`);
  return node;
}

// ------------------------------------------------------------------------------------------------------------------
// Values
// ------------------------------------------------------------------------------------------------------------------

const isObject = (value: unknown): value is JsonObject =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function deepEqual(a: Json, b: Json): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Property names are case-insensitive in ARM. */
function getProperty(target: Json, name: string, where: string): Json {
  if (!isObject(target)) throw new Error(`${where}: .${name} of a non-object (${JSON.stringify(target)})`);
  if (name in target) return target[name] as Json;
  const key = Object.keys(target).find((k) => k.toLowerCase() === name.toLowerCase());
  if (key === undefined)
    throw new Error(`${where}: no property ${name} in ${JSON.stringify(Object.keys(target))}`);
  return target[key] as Json;
}

function asString(value: Json): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  // .NET formats booleans as True and False.
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  if (value === null) return '';
  return JSON.stringify(value);
}

function expectString(value: Json, what: string): string {
  if (typeof value !== 'string') throw new Error(`${what} must be a string, got ${JSON.stringify(value)}`);
  return value;
}

function expectArray(value: Json, what: string): Json[] {
  if (!Array.isArray(value)) throw new Error(`${what} must be an array, got ${JSON.stringify(value)}`);
  return value;
}

function isEmpty(value: Json): boolean {
  if (value === null || value === '') return true;
  if (Array.isArray(value)) return value.length === 0;
  if (isObject(value)) return Object.keys(value).length === 0;
  return false;
}

function hashHex(algorithm: string, parts: Json[]): string {
  return createHash(algorithm)
    .update(parts.map((p) => asString(p)).join('\u0000'))
    .digest('hex');
}

/** Stand-in for ARM's uniqueString: deterministic, 13 lowercase letters and digits. */
function uniqueString(parts: Json[]): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
  const bytes = Buffer.from(hashHex('sha256', parts), 'hex');
  let out = '';
  for (let i = 0; i < 13; i++) out += alphabet.charAt((bytes[i] as number) % 32);
  return out;
}

/** Stand-in for ARM's guid(): deterministic, GUID-shaped. */
export function guidOf(parts: Json[]): string {
  const h = hashHex('sha1', parts);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

// ------------------------------------------------------------------------------------------------------------------
// Resource IDs
// ------------------------------------------------------------------------------------------------------------------

function qualified(type: string, names: string[]): string {
  const [namespace, ...types] = type.split('/');
  if (namespace === undefined || types.length !== names.length) {
    throw new Error(`Resource type ${type} does not match names ${JSON.stringify(names)}`);
  }
  return [namespace, ...types.flatMap((t, i) => [t, names[i] as string])].join('/');
}

export function parseResourceId(id: string): { type: string; name: string } {
  const at = id.toLowerCase().lastIndexOf('/providers/');
  const rest = at >= 0 ? id.slice(at + '/providers/'.length) : id;
  const [namespace, ...segments] = rest.split('/');
  const types: string[] = [];
  const names: string[] = [];
  segments.forEach((segment, i) => (i % 2 === 0 ? types : names).push(segment));
  if (namespace === undefined || types.length === 0 || types.length !== names.length) {
    throw new Error(`Not a resource ID: ${id}`);
  }
  return { type: [namespace, ...types].join('/'), name: names.join('/') };
}

// ------------------------------------------------------------------------------------------------------------------
// Deployments
// ------------------------------------------------------------------------------------------------------------------

type Template = JsonObject & {
  parameters?: Record<string, JsonObject>;
  variables?: JsonObject;
  resources?: JsonObject[] | Record<string, JsonObject>;
  outputs?: Record<string, JsonObject>;
};

interface Lambda {
  lambda: true;
  names: string[];
  body: Node;
  scope: Scope;
}

type Value = Json | Lambda;

const isLambda = (value: Value): value is Lambda => isObject(value) && 'lambda' in value && 'body' in value;

export interface Scope {
  template: Template;
  parameterValues: JsonObject;
  context: DeploymentContext;
  subscriptionId: string;
  /** Undefined for a subscription-scope template. */
  resourceGroup: string | undefined;
  deploymentName: string;
  /** Module names from the top template down to this one. */
  path: string[];
  locals: Record<string, Json>;
  copyIndexes: Record<string, number>;
  variableCache: Map<string, Json>;
  deployments: Map<string, Deployment>;
}

export interface DeployedResource {
  type: string;
  name: string;
  apiVersion: string;
  /** Module names from the top template down to the one declaring this resource. */
  path: string[];
  raw: JsonObject;
  scope: Scope;
  /** The evaluated value of a property path ('' for the whole resource), e.g. 'properties.siteConfig'. */
  get(path?: string): Json;
}

export class Deployment {
  readonly scope: Scope;

  constructor(scope: Scope) {
    this.scope = scope;
  }

  /** Every resource this deployment creates, its modules' included (conditions applied, loops expanded). */
  resources(): DeployedResource[] {
    const out: DeployedResource[] = [];
    for (const entry of resourceEntries(this.scope)) {
      const { raw, scope } = entry;
      const type = expectString(raw.type as Json, 'resource type');
      const name = expectString(evaluate(raw.name as Json, scope), `name of a ${type}`);
      const resource: DeployedResource = {
        type,
        name,
        apiVersion: expectString(raw.apiVersion as Json, `apiVersion of ${type}`),
        path: this.scope.path,
        raw,
        scope,
        get: (path = '') => {
          let value: Json = raw;
          for (const part of path.split('.').filter(Boolean))
            value = getProperty(value, part, `${type} ${name}`);
          return evaluate(value, scope);
        },
      };
      out.push(resource);
      if (type.toLowerCase() === 'microsoft.resources/deployments' && isObject(raw.properties)) {
        out.push(...this.module(name, entry).resources());
      }
    }
    return out;
  }

  /** The nested deployment (Bicep module) with this name. */
  module(name: string, entry?: { raw: JsonObject; scope: Scope }): Deployment {
    const cached = this.scope.deployments.get(name);
    if (cached) return cached;
    const found =
      entry ??
      resourceEntries(this.scope).find(
        (e) =>
          (e.raw.type as string).toLowerCase() === 'microsoft.resources/deployments' &&
          evaluate(e.raw.name as Json, e.scope) === name,
      );
    if (found === undefined)
      throw new Error(`No module named ${name} in ${this.scope.path.join('/') || 'main'}`);
    const properties = found.raw.properties as JsonObject;
    const options = properties.expressionEvaluationOptions as JsonObject | undefined;
    if (options?.scope !== 'inner') throw new Error(`Module ${name} is not evaluated in its own scope`);
    const parameterValues: JsonObject = {};
    for (const [key, parameter] of Object.entries((properties.parameters ?? {}) as Record<string, Json>)) {
      // An entry is `{ "value": … }`, or (as Bicep 0.49 compiles a conditional value) one expression that yields
      // it: "[if(cond, createObject('value', x), createObject('value', ''))]".
      const entry = typeof parameter === 'string' ? evaluate(parameter, found.scope) : parameter;
      if (!isObject(entry) || !('value' in entry)) {
        throw new Error(
          `Module ${name}: parameter ${key} is not a { value } entry: ${JSON.stringify(entry)}`,
        );
      }
      parameterValues[key] = typeof parameter === 'string' ? entry.value : evaluate(entry.value, found.scope);
    }
    const resourceGroup =
      found.raw.resourceGroup === undefined
        ? found.scope.resourceGroup
        : expectString(evaluate(found.raw.resourceGroup, found.scope), 'module resource group');
    const deployment = new Deployment({
      template: properties.template as Template,
      parameterValues,
      context: this.scope.context,
      subscriptionId: found.scope.subscriptionId,
      resourceGroup,
      deploymentName: name,
      path: [...this.scope.path, name],
      locals: {},
      copyIndexes: {},
      variableCache: new Map(),
      deployments: new Map(),
    });
    this.scope.deployments.set(name, deployment);
    return deployment;
  }

  /** The evaluated outputs, `{ NAME: value }`. */
  outputs(): JsonObject {
    const out: JsonObject = {};
    for (const [name, output] of Object.entries(this.scope.template.outputs ?? {})) {
      out[name] = evaluate(output.value as Json, this.scope);
    }
    return out;
  }

  parameter(name: string): Json {
    return parameterValue(this.scope, name);
  }
}

/** Deploys a compiled subscription-scope template (the top of infra/) with these parameter values. */
export function deploy(
  template: Record<string, unknown>,
  parameterValues: JsonObject,
  context: DeploymentContext,
) {
  const schema = String(template.$schema);
  return new Deployment({
    template: template as Template,
    parameterValues,
    context,
    subscriptionId: context.subscriptionId,
    resourceGroup: schema.includes('subscriptionDeploymentTemplate') ? undefined : 'rg',
    deploymentName: context.deploymentName,
    path: [],
    locals: {},
    copyIndexes: {},
    variableCache: new Map(),
    deployments: new Map(),
  });
}

function resourceEntries(scope: Scope): { raw: JsonObject; scope: Scope }[] {
  const declared = scope.template.resources ?? [];
  const list = Array.isArray(declared) ? declared : Object.values(declared);
  const out: { raw: JsonObject; scope: Scope }[] = [];
  for (const raw of list) {
    if (raw.existing === true) continue;
    const copy = raw.copy as JsonObject | undefined;
    const instances: Scope[] = [];
    if (copy === undefined) {
      instances.push(scope);
    } else {
      const count = evaluate(copy.count as Json, scope);
      if (typeof count !== 'number') throw new Error(`copy count ${JSON.stringify(count)}`);
      for (let i = 0; i < count; i++) {
        instances.push({ ...scope, copyIndexes: { ...scope.copyIndexes, '': i, [copy.name as string]: i } });
      }
    }
    for (const instance of instances) {
      if (raw.condition !== undefined && evaluate(raw.condition, instance) !== true) continue;
      out.push({ raw, scope: instance });
    }
  }
  return out;
}

function parameterValue(scope: Scope, name: string): Json {
  if (name in scope.parameterValues) return scope.parameterValues[name] as Json;
  const declared = scope.template.parameters?.[name];
  if (declared === undefined) throw new Error(`No parameter ${name} in ${scope.path.join('/') || 'main'}`);
  if (!('defaultValue' in declared)) throw new Error(`Parameter ${name} has no value and no default`);
  return evaluate(declared.defaultValue, scope);
}

function variableValue(scope: Scope, name: string): Json {
  const cached = scope.variableCache.get(name);
  if (cached !== undefined) return cached;
  const variables = scope.template.variables ?? {};
  let value: Json;
  if (name in variables && name !== 'copy') {
    value = evaluate(variables[name] as Json, scope);
  } else {
    const loop = ((variables.copy ?? []) as JsonObject[]).find((c) => c.name === name);
    if (loop === undefined) throw new Error(`No variable ${name}`);
    const count = evaluate(loop.count as Json, scope) as number;
    value = Array.from({ length: count }, (_, i) =>
      evaluate(loop.input as Json, { ...scope, copyIndexes: { ...scope.copyIndexes, [name]: i } }),
    );
  }
  scope.variableCache.set(name, value);
  return value;
}

/** Evaluates a template value: expressions in strings (and in property names), recursively. */
export function evaluate(value: Json, scope: Scope): Json {
  if (typeof value === 'string') {
    if (value.startsWith('[[')) return value.slice(1);
    if (!isExpression(value)) return value;
    const result = evaluateNode(parseExpression(value.slice(1, -1)), scope);
    if (isLambda(result)) throw new Error(`A lambda is not a value: ${value}`);
    return result;
  }
  if (Array.isArray(value)) return value.map((item) => evaluate(item, scope));
  if (isObject(value)) {
    const out: JsonObject = {};
    for (const [key, item] of Object.entries(value)) {
      if (key === 'copy' && Array.isArray(item)) {
        // A property loop: { copy: [{ name, count, input }] } becomes { name: [input for each index] }.
        for (const loop of item as JsonObject[]) {
          const loopName = loop.name as string;
          const count = evaluate(loop.count as Json, scope) as number;
          out[loopName] = Array.from({ length: count }, (_, i) =>
            evaluate(loop.input as Json, { ...scope, copyIndexes: { ...scope.copyIndexes, [loopName]: i } }),
          );
        }
        continue;
      }
      out[expectString(evaluate(key, scope), 'property name')] = evaluate(item, scope);
    }
    return out;
  }
  return value;
}

function evaluateNode(node: Node, scope: Scope): Value {
  switch (node.kind) {
    case 'literal':
      return node.value;
    case 'member': {
      const target = evaluateNode(node.target, scope);
      if (isLambda(target)) throw new Error('Member access on a lambda');
      return getProperty(target, node.name, 'expression');
    }
    case 'index': {
      const target = evaluateNode(node.target, scope);
      const index = evaluateNode(node.index, scope);
      if (Array.isArray(target) && typeof index === 'number') {
        if (index < 0 || index >= target.length) throw new Error(`Index ${index} out of range`);
        return target[index] as Json;
      }
      if (isObject(target) && typeof index === 'string') return getProperty(target, index, 'expression');
      throw new Error(`Cannot index ${JSON.stringify(target)} with ${JSON.stringify(index)}`);
    }
    case 'call':
      return call(node, scope);
  }
}

function applyLambda(fn: Value, args: Json[]): Json {
  if (!isLambda(fn)) throw new Error('Expected a lambda');
  const locals = { ...fn.scope.locals };
  fn.names.forEach((name, i) => (locals[name] = args[i] ?? null));
  const result = evaluateNode(fn.body, { ...fn.scope, locals });
  if (isLambda(result)) throw new Error('A lambda returned a lambda');
  return result;
}

/** A resource ID, or (language version 2.0 templates) the symbolic name of a resource declared in this template. */
function resolveTarget(scope: Scope, target: string): { type: string; name: string } {
  if (target.includes('/')) return parseResourceId(target);
  const declared = scope.template.resources;
  const entry = declared !== undefined && !Array.isArray(declared) ? declared[target] : undefined;
  if (entry === undefined) throw new Error(`reference(${target}): no resource with that symbolic name`);
  return {
    type: expectString(entry.type as Json, 'resource type'),
    name: expectString(evaluate(entry.name as Json, scope), 'resource name'),
  };
}

function stubReference(scope: Scope, id: string, full: boolean): Json {
  const { type, name } = resolveTarget(scope, id);
  const kind = type.toLowerCase();
  const { context } = scope;
  if (kind === 'microsoft.resources/deployments') {
    const outputs: JsonObject = {};
    for (const [key, value] of Object.entries(new Deployment(scope).module(name).outputs())) {
      outputs[key] = { type: typeof value === 'string' ? 'String' : 'Object', value };
    }
    return full ? { properties: { outputs } } : { outputs };
  }
  const leaf = name.split('/').pop() as string;
  let properties: JsonObject;
  switch (kind) {
    case 'microsoft.managedidentity/userassignedidentities':
      properties = {
        clientId: guidOf(['clientId', name]),
        principalId: guidOf(['principalId', name]),
        tenantId: context.tenantId,
      };
      break;
    case 'microsoft.signalrservice/webpubsub':
      properties = {
        hostName: `${name.toLowerCase()}.webpubsub.azure.com`,
        publicPort: 443,
        serverPort: 443,
      };
      break;
    case 'microsoft.storage/storageaccounts':
      properties = {
        primaryEndpoints: Object.fromEntries(
          ['blob', 'queue', 'table', 'file', 'dfs', 'web'].map((s) => [
            s,
            `https://${name}.${s}.core.windows.net/`,
          ]),
        ),
      };
      break;
    case 'microsoft.insights/components': {
      const key = guidOf(['instrumentationKey', name]);
      properties = {
        InstrumentationKey: key,
        ConnectionString: `InstrumentationKey=${key};IngestionEndpoint=https://${context.location}.in.applicationinsights.azure.com/`,
      };
      break;
    }
    case 'microsoft.operationalinsights/workspaces':
      properties = { customerId: guidOf(['customerId', name]) };
      break;
    case 'microsoft.web/sites':
      properties = { defaultHostName: `${name}.azurewebsites.net` };
      break;
    case 'microsoft.web/serverfarms':
      properties = {};
      break;
    case 'microsoft.keyvault/vaults':
      properties = { vaultUri: `https://${name}.vault.azure.net/` };
      break;
    case 'microsoft.keyvault/vaults/secrets': {
      const vault = name.split('/')[0] as string;
      properties = {
        secretUri: `https://${vault}.vault.azure.net/secrets/${leaf}`,
        secretUriWithVersion: `https://${vault}.vault.azure.net/secrets/${leaf}/0123456789abcdef`,
      };
      break;
    }
    default:
      throw new Error(`reference() has no stand-in for ${type}`);
  }
  if (!full) return properties;
  return {
    id,
    name: leaf,
    type,
    location: context.location,
    properties,
    identity: {
      principalId: guidOf(['systemIdentity', name]),
      tenantId: context.tenantId,
      type: 'SystemAssigned',
    },
  };
}

function resourceIdFrom(scope: Scope, args: Json[], level: 'group' | 'subscription' | 'tenant'): string {
  const strings = args.map((a) => expectString(a, 'resource ID part'));
  const typeAt = strings.findIndex((s) => /^[^/]+\.[^/]+\/./.test(s));
  if (typeAt < 0) throw new Error(`No resource type in ${JSON.stringify(strings)}`);
  const type = strings[typeAt] as string;
  const names = strings.slice(typeAt + 1);
  const before = strings.slice(0, typeAt);
  const provider = `providers/${qualified(type, names)}`;
  if (level === 'tenant') return `/${provider}`;
  if (level === 'subscription') {
    const subscription = before[0] ?? scope.subscriptionId;
    return `/subscriptions/${subscription}/${provider}`;
  }
  const [subscription, group] =
    before.length === 2
      ? (before as [string, string])
      : before.length === 1
        ? [scope.subscriptionId, before[0] as string]
        : [scope.subscriptionId, scope.resourceGroup];
  if (group === undefined) return `/subscriptions/${subscription}/${provider}`;
  return `/subscriptions/${subscription}/resourceGroups/${group}/${provider}`;
}

function format(template: string, args: Json[]): string {
  return template.replace(/\{\{|\}\}|\{(\d+)(?::[^}]*)?\}/g, (match, index: string | undefined) => {
    if (match === '{{') return '{';
    if (match === '}}') return '}';
    return asString(args[Number(index)] ?? null);
  });
}

function call(node: Extract<Node, { kind: 'call' }>, scope: Scope): Value {
  const name = node.name.toLowerCase();
  // Special forms: their arguments are not all evaluated up front.
  if (name === 'if') {
    const [condition, whenTrue, whenFalse] = node.args as [Node, Node, Node];
    return evaluateNode(evaluateNode(condition, scope) === true ? whenTrue : whenFalse, scope);
  }
  if (name === 'lambda') {
    const names = node.args
      .slice(0, -1)
      .map((a) => expectString(evaluateNode(a, scope) as Json, 'lambda variable'));
    return { lambda: true, names, body: node.args[node.args.length - 1] as Node, scope };
  }
  if (name.startsWith('list')) throw new SecretReadError(`${node.name}() reads a secret`);

  const values = node.args.map((a) => evaluateNode(a, scope));
  const args = values as Json[];
  const a0 = args[0] as Json;
  const a1 = args[1] as Json;
  switch (name) {
    case 'parameters':
      return parameterValue(scope, expectString(a0, 'parameter name'));
    case 'variables':
      return variableValue(scope, expectString(a0, 'variable name'));
    case 'lambdavariables': {
      const key = expectString(a0, 'lambda variable');
      if (!(key in scope.locals)) throw new Error(`No lambda variable ${key}`);
      return scope.locals[key] as Json;
    }
    case 'copyindex': {
      const loop = typeof a0 === 'string' ? a0 : '';
      const offset = typeof a0 === 'number' ? a0 : typeof a1 === 'number' ? a1 : 0;
      const index = scope.copyIndexes[loop];
      if (index === undefined) throw new Error(`copyIndex(${loop}) outside its loop`);
      return index + offset;
    }
    case 'reference':
      return stubReference(
        scope,
        expectString(a0, 'reference target'),
        args[2] === 'Full' || args[2] === 'full',
      );
    case 'resourceid':
      return resourceIdFrom(scope, args, 'group');
    case 'subscriptionresourceid':
      return resourceIdFrom(scope, args, 'subscription');
    case 'tenantresourceid':
      return resourceIdFrom(scope, args, 'tenant');
    case 'extensionresourceid':
      return `${expectString(a0, 'scope ID')}/providers/${qualified(
        expectString(a1, 'resource type'),
        args.slice(2).map((n) => expectString(n, 'name')),
      )}`;
    case 'subscription':
      return {
        id: `/subscriptions/${scope.subscriptionId}`,
        subscriptionId: scope.subscriptionId,
        tenantId: scope.context.tenantId,
        displayName: 'test subscription',
      };
    case 'resourcegroup':
      if (scope.resourceGroup === undefined)
        throw new Error('resourceGroup() in a subscription-scope template');
      return {
        id: `/subscriptions/${scope.subscriptionId}/resourceGroups/${scope.resourceGroup}`,
        name: scope.resourceGroup,
        location: scope.context.location,
      };
    case 'tenant':
      return { tenantId: scope.context.tenantId, countryCode: 'US', displayName: 'test tenant' };
    case 'deployment':
      return { name: scope.deploymentName, location: scope.context.location, properties: {} };
    case 'environment':
      return {
        name: 'AzureCloud',
        authentication: { loginEndpoint: 'https://login.microsoftonline.com/', tenant: 'common' },
        resourceManager: 'https://management.azure.com/',
        suffixes: { storage: 'core.windows.net', keyvaultDns: '.vault.azure.net' },
      };
    case 'utcnow':
      return scope.context.utcNow;
    case 'newguid':
      return scope.context.newGuid;
    case 'uniquestring':
      return uniqueString(args);
    case 'guid':
      return guidOf(args);
    case 'format':
      return format(expectString(a0, 'format string'), args.slice(1));
    case 'string':
      return asString(a0);
    case 'int':
      return typeof a0 === 'number' ? Math.trunc(a0) : Number.parseInt(expectString(a0, 'int()'), 10);
    case 'bool':
      return typeof a0 === 'boolean' ? a0 : /^true$/i.test(asString(a0));
    case 'json':
      return JSON.parse(expectString(a0, 'json()')) as Json;
    case 'true':
      return true;
    case 'false':
      return false;
    case 'null':
      return null;
    case 'equals':
      return deepEqual(a0, a1);
    case 'not':
      return a0 !== true;
    case 'and':
      return args.every((a) => a === true);
    case 'or':
      return args.some((a) => a === true);
    case 'empty':
      return isEmpty(a0);
    case 'coalesce':
      return args.find((a) => a !== null) ?? null;
    case 'length':
      return typeof a0 === 'string' || Array.isArray(a0) ? a0.length : Object.keys(a0 as JsonObject).length;
    case 'contains':
      if (typeof a0 === 'string') return a0.includes(asString(a1));
      if (Array.isArray(a0)) return a0.some((item) => deepEqual(item, a1));
      return Object.keys(a0 as JsonObject).some((k) => k.toLowerCase() === asString(a1).toLowerCase());
    case 'startswith':
      return expectString(a0, 'startsWith')
        .toLowerCase()
        .startsWith(expectString(a1, 'startsWith').toLowerCase());
    case 'endswith':
      return expectString(a0, 'endsWith').toLowerCase().endsWith(expectString(a1, 'endsWith').toLowerCase());
    case 'tolower':
      return expectString(a0, 'toLower').toLowerCase();
    case 'toupper':
      return expectString(a0, 'toUpper').toUpperCase();
    case 'trim':
      return expectString(a0, 'trim').trim();
    case 'replace':
      return expectString(a0, 'replace')
        .split(expectString(a1, 'replace'))
        .join(expectString(args[2] as Json, 'replace'));
    case 'split': {
      const text = expectString(a0, 'split');
      const delimiters = Array.isArray(a1)
        ? a1.map((d) => expectString(d, 'delimiter'))
        : [expectString(a1, 'delimiter')];
      let parts = [text];
      for (const d of delimiters) parts = parts.flatMap((p) => p.split(d));
      return parts;
    }
    case 'join':
      return expectArray(a0, 'join')
        .map((item) => asString(item))
        .join(expectString(a1, 'join delimiter'));
    case 'take':
      return typeof a0 === 'string'
        ? a0.slice(0, a1 as number)
        : expectArray(a0, 'take').slice(0, a1 as number);
    case 'skip':
      return typeof a0 === 'string' ? a0.slice(a1 as number) : expectArray(a0, 'skip').slice(a1 as number);
    case 'first':
      return typeof a0 === 'string' ? a0.charAt(0) : (expectArray(a0, 'first')[0] ?? null);
    case 'last':
      return typeof a0 === 'string' ? a0.charAt(a0.length - 1) : (expectArray(a0, 'last').at(-1) ?? null);
    case 'substring': {
      const text = expectString(a0, 'substring');
      const start = a1 as number;
      return text.slice(start, args[2] === undefined ? undefined : start + (args[2] as number));
    }
    case 'concat':
      if (args.every(Array.isArray)) return (args as Json[][]).flat(1);
      return args.map(asString).join('');
    case 'createarray':
      return args;
    case 'createobject': {
      const out: JsonObject = {};
      for (let i = 0; i < args.length; i += 2)
        out[expectString(args[i] as Json, 'key')] = args[i + 1] ?? null;
      return out;
    }
    case 'union':
      if (args.every(Array.isArray)) {
        const out: Json[] = [];
        for (const item of (args as Json[][]).flat(1))
          if (!out.some((o) => deepEqual(o, item))) out.push(item);
        return out;
      }
      return Object.assign({}, ...args.map((a) => (isObject(a) ? a : {}))) as JsonObject;
    case 'shallowmerge':
      return Object.assign({}, ...expectArray(a0, 'shallowMerge')) as JsonObject;
    case 'items':
      return Object.keys(a0 as JsonObject)
        .sort()
        .map((key) => ({ key, value: (a0 as JsonObject)[key] as Json }));
    case 'objectkeys':
      return Object.keys(a0 as JsonObject);
    case 'tryget': {
      let value: Json = a0;
      for (const key of args.slice(1)) {
        if (value === null) return null;
        if (Array.isArray(value) && typeof key === 'number') value = value[key] ?? null;
        else if (isObject(value) && typeof key === 'string') {
          const found = Object.keys(value).find((k) => k.toLowerCase() === key.toLowerCase());
          value = found === undefined ? null : (value[found] as Json);
        } else value = null;
      }
      return value;
    }
    case 'filter':
      return expectArray(a0, 'filter').filter(
        (item, i) => applyLambda(values[1] as Value, [item, i]) === true,
      );
    case 'map':
      return expectArray(a0, 'map').map((item, i) => applyLambda(values[1] as Value, [item, i]));
    case 'reduce':
      return expectArray(a0, 'reduce').reduce<Json>(
        (acc, item, i) => applyLambda(values[2] as Value, [acc, item, i]),
        a1,
      );
    case 'toobject': {
      const out: JsonObject = {};
      for (const item of expectArray(a0, 'toObject')) {
        const key = expectString(applyLambda(values[1] as Value, [item]), 'toObject key');
        out[key] = values[2] === undefined ? item : applyLambda(values[2], [item]);
      }
      return out;
    }
    case 'range':
      return Array.from({ length: a1 as number }, (_, i) => (a0 as number) + i);
    case 'add':
      return (a0 as number) + (a1 as number);
    case 'sub':
      return (a0 as number) - (a1 as number);
    case 'mul':
      return (a0 as number) * (a1 as number);
    case 'div':
      return Math.trunc((a0 as number) / (a1 as number));
    case 'mod':
      return (a0 as number) % (a1 as number);
    case 'greater':
      return (a0 as number) > (a1 as number);
    case 'greaterorequals':
      return (a0 as number) >= (a1 as number);
    case 'less':
      return (a0 as number) < (a1 as number);
    case 'lessorequals':
      return (a0 as number) <= (a1 as number);
    case 'min':
      return Math.min(...(Array.isArray(a0) ? (a0 as number[]) : (args as number[])));
    case 'max':
      return Math.max(...(Array.isArray(a0) ? (a0 as number[]) : (args as number[])));
    default:
      throw new Error(`The test evaluator does not know the ARM function ${node.name}()`);
  }
}

/** Every function name an expression calls, list*() included, without evaluating anything. */
export function functionsCalled(value: Json): string[] {
  const names: string[] = [];
  const visitNode = (node: Node) => {
    if (node.kind === 'call') {
      names.push(node.name);
      node.args.forEach(visitNode);
    } else if (node.kind === 'member') visitNode(node.target);
    else if (node.kind === 'index') {
      visitNode(node.target);
      visitNode(node.index);
    }
  };
  const visit = (item: Json) => {
    if (typeof item === 'string' && isExpression(item)) visitNode(parseExpression(item.slice(1, -1)));
    else if (Array.isArray(item)) item.forEach(visit);
    else if (isObject(item)) {
      for (const [key, child] of Object.entries(item)) {
        visit(key);
        visit(child);
      }
    }
  };
  visit(value);
  return names;
}

/** The parameters('x') an expression reads, without evaluating anything. */
export function parametersRead(value: Json): string[] {
  const found: string[] = [];
  const visit = (item: Json) => {
    if (typeof item === 'string' && isExpression(item)) {
      for (const match of item.matchAll(/parameters\('([^']+)'\)/g)) found.push(match[1] as string);
    } else if (Array.isArray(item)) item.forEach(visit);
    else if (isObject(item)) {
      for (const [key, child] of Object.entries(item)) {
        visit(key);
        visit(child);
      }
    }
  };
  visit(value);
  return found;
}
