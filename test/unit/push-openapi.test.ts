/**
 * The OpenAPI document against the registrations as they are when the test runs: every `app.http(...)` in
 * src/functions/*.ts is loaded (jest maps '@azure/functions-core' to the local host's stand-in, which records
 * them), so a route, method, path parameter or auth level changed on one side only fails here.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { localHostInternals } from '../../dev/host/core-api';
import { PUSH_OPERATIONS } from '../../src/push/api';
import { buildOpenApiDocument } from '../../src/push/openapi';

const FUNCTIONS_DIR = join(__dirname, '..', '..', 'src', 'functions');
for (const file of readdirSync(FUNCTIONS_DIR)
  .filter((name) => name.endsWith('.ts'))
  .sort()) {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loading the registrations is the point
  require(join(FUNCTIONS_DIR, file));
}

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

interface Registration {
  name: string;
  route: string;
  methods: string[];
  authLevel: string;
}

function registrations(): Registration[] {
  return localHostInternals.functions().flatMap(({ metadata }) => {
    const trigger = Object.values(metadata.bindings).find((binding) => binding.type === 'httpTrigger');
    if (trigger === undefined) return [];
    return [
      {
        name: metadata.name,
        route: trigger.route ?? metadata.name,
        methods: (trigger.methods ?? []).map((method) => method.toUpperCase()),
        authLevel: trigger.authLevel ?? 'function',
      },
    ];
  });
}

type Json = Record<string, unknown>;

function documentFor(bearer: boolean): Json {
  return buildOpenApiDocument({
    roles: { send: 'Messages.Send', manage: 'Groups.Manage' },
    bearer,
    serviceTimeoutMs: 3000,
  });
}

function resolve(document: Json, value: unknown): Json {
  const reference = (value as { $ref?: string }).$ref;
  if (reference === undefined) return value as Json;
  let node: unknown = document;
  for (const part of reference.replace(/^#\//, '').split('/')) node = (node as Json | undefined)?.[part];
  if (node === undefined) throw new Error(`Unresolved $ref ${reference}`);
  return node as Json;
}

function operations(document: Json): { path: string; method: string; operation: Json; pathItem: Json }[] {
  const paths = document.paths as Record<string, Json>;
  return Object.entries(paths).flatMap(([path, pathItem]) =>
    Object.keys(pathItem)
      .filter((key) => HTTP_METHODS.includes(key))
      .map((method) => ({
        path,
        method: method.toUpperCase(),
        operation: pathItem[method] as Json,
        pathItem,
      })),
  );
}

describe.each([
  ['function key only', false],
  ['bearer mode', true],
])('the OpenAPI document (%s)', (_mode, bearer) => {
  const document = documentFor(bearer);

  it('is OpenAPI 3.1 with the /api prefix as its server', () => {
    expect(document.openapi).toBe('3.1.0');
    expect(document.servers).toEqual([{ url: '/api' }]);
  });

  it('describes exactly the registered routes and methods', () => {
    const registered = registrations()
      .flatMap((fn) => fn.methods.map((method) => `${method} /${fn.route}`))
      .sort();
    const documented = operations(document)
      .map(({ method, path }) => `${method} ${path}`)
      .sort();
    expect(registrations().length).toBeGreaterThanOrEqual(20);
    expect(documented).toEqual(registered);
  });

  it('declares every path parameter of every route, and no others', () => {
    for (const { path, operation, pathItem } of operations(document)) {
      const templated = [...path.matchAll(/\{([^}]+)\}/g)].map((match) => match[1]).sort();
      const declared = [
        ...((pathItem.parameters as unknown[] | undefined) ?? []),
        ...((operation.parameters as unknown[] | undefined) ?? []),
      ]
        .map((parameter) => resolve(document, parameter))
        .filter((parameter) => parameter.in === 'path');
      expect([path, declared.map((parameter) => parameter.name).sort()]).toEqual([path, templated]);
      for (const parameter of declared) expect(parameter.required).toBe(true);
    }
  });

  it('asks for the function key exactly where the registration has authLevel function', () => {
    const byRoute = new Map<string, string>(
      registrations().flatMap((fn) =>
        fn.methods.map((method) => [`${method} /${fn.route}`, fn.authLevel] as const),
      ),
    );
    for (const { path, method, operation } of operations(document)) {
      const security = operation.security as Record<string, string[]>[];
      const needsKey = security.every(
        (requirement) => 'functionKey' in requirement || 'functionKeyQuery' in requirement,
      );
      const allowsWithoutKey = security.some(
        (requirement) => !('functionKey' in requirement) && !('functionKeyQuery' in requirement),
      );
      const authLevel = byRoute.get(`${method} ${path}`);
      if (authLevel === 'anonymous') expect([path, method, allowsWithoutKey]).toEqual([path, method, true]);
      else expect([path, method, authLevel, needsKey]).toEqual([path, method, 'function', true]);
    }
  });

  it('names every push operation once, with its app role in bearer mode', () => {
    const ids = operations(document).map(({ operation }) => operation.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    for (const operation of PUSH_OPERATIONS) expect(ids.filter((id) => id === operation)).toHaveLength(1);
    for (const { operation } of operations(document)) {
      if (!PUSH_OPERATIONS.includes(operation.operationId as (typeof PUSH_OPERATIONS)[number])) continue;
      const role = operation['x-required-role'];
      const security = operation.security as Record<string, string[]>[];
      for (const requirement of security) {
        expect(requirement.bearer).toEqual(bearer ? [role] : undefined);
      }
    }
  });

  it('resolves every $ref and gives every operation a response', () => {
    const visit = (node: unknown): void => {
      if (Array.isArray(node)) node.forEach(visit);
      else if (typeof node === 'object' && node !== null) {
        if (typeof (node as Json).$ref === 'string') resolve(document, node);
        Object.values(node).forEach(visit);
      }
    };
    visit(document);
    for (const { operation } of operations(document)) {
      expect(Object.keys(operation.responses as Json).length).toBeGreaterThan(0);
    }
  });
});

it('the push registrations all need the function key', () => {
  const push = registrations().filter((fn) => fn.route.startsWith('hubs/'));
  expect(push).toHaveLength(PUSH_OPERATIONS.length);
  for (const fn of push) expect([fn.name, fn.authLevel]).toEqual([fn.name, 'function']);
});
