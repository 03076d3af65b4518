import { serialize as serializeCookie } from 'cookie';
import * as coreApi from './core-api';

/**
 * An HTTP function invoked as the Azure Functions Node worker invokes it (azure-functions-nodejs-worker,
 * InvocationHandler): through the programming model that the app's own @azure/functions handed to
 * `setProgrammingModel` when it loaded, from an RPC invocation request to an RPC invocation response.
 *
 * So the local host runs the same conversions as the deployed app, in the app's own copy of
 * @azure/functions: RPC HTTP data → HttpRequest and InvocationContext, and the handler's result → RPC HTTP
 * response. For the deployed bundle that copy is built from @azure/functions' sources (dev/bundle.ts), which
 * no other path would exercise before Azure does.
 */

/** The request half of the worker protocol's RpcHttp, as the Functions host fills it for an HTTP trigger. */
export interface RpcHttpRequest {
  method: string;
  url: string;
  /** One string per name; the host joins repeated headers with ", ". */
  headers: Record<string, string>;
  /**
   * Left out by the local host: how the Functions host renders a repeated query name is not documented, and
   * without it @azure/functions reads the query from `url`, which carries all of it.
   */
  query?: Record<string, string>;
  params: Record<string, string>;
  body?: { bytes: Uint8Array };
}

export interface HttpOutcome {
  status: number;
  headers: Record<string, string>;
  /** Set-Cookie values, one per cookie of the response's `cookies`. */
  setCookies: string[];
  body: Buffer;
}

export type CoreLog = (level: string, category: string, message: string) => void;

// The shapes this file reads of @azure/functions-core's ProgrammingModel and InvocationModel (the package's
// types-core); the app's @azure/functions implements them.
interface ProgrammingModel {
  name: string;
  getInvocationModel(coreContext: CoreInvocationContext): InvocationModel | Promise<InvocationModel>;
}

interface CoreInvocationContext {
  invocationId: string;
  request: {
    invocationId: string;
    functionId: string;
    inputData: { name: string; data: { http: RpcHttpRequest } }[];
    triggerMetadata: Record<string, unknown>;
  };
  metadata: coreApi.FunctionMetadata;
  state?: string;
  log: CoreLog;
}

interface InvocationModel {
  getArguments(): Promise<{ context: unknown; inputs: unknown[] }>;
  invokeFunction(context: unknown, inputs: unknown[], handler: coreApi.FunctionCallback): Promise<unknown>;
  getResponse(
    context: unknown,
    result: unknown,
  ): Promise<{ returnValue?: { http?: RpcHttpResponse } | null }>;
}

interface RpcNullable<T> {
  value?: T;
}

interface RpcHttpCookie {
  name: string;
  value: string;
  domain?: RpcNullable<string>;
  path?: RpcNullable<string>;
  expires?: RpcNullable<{ seconds?: number }>;
  secure?: RpcNullable<boolean>;
  httpOnly?: RpcNullable<boolean>;
  sameSite?: 'none' | 'lax' | 'strict' | 'explicitNone';
  maxAge?: RpcNullable<number>;
}

interface RpcHttpResponse {
  statusCode?: string;
  headers?: Record<string, string>;
  cookies?: RpcHttpCookie[];
  body?: { bytes?: Uint8Array; string?: string } | null;
}

function programmingModel(): ProgrammingModel {
  const model = coreApi.getProgrammingModel() as ProgrammingModel | undefined;
  if (model === undefined) {
    throw new Error(
      'The app set no programming model: its functions must be registered with @azure/functions v4 (app.http)',
    );
  }
  return model;
}

/** Throws what the function threw: the host answers that with a bare 500, as the Functions host does. */
export async function invokeHttpFunction(
  fn: coreApi.RegisteredFunction,
  invocationId: string,
  request: RpcHttpRequest,
  log: CoreLog,
): Promise<HttpOutcome> {
  const trigger = Object.entries(fn.metadata.bindings).find(([, binding]) => binding.type === 'httpTrigger');
  if (trigger === undefined) throw new Error(`${fn.metadata.name} has no HTTP trigger`);
  const coreContext: CoreInvocationContext = {
    invocationId,
    request: {
      invocationId,
      functionId: fn.metadata.name,
      inputData: [{ name: trigger[0], data: { http: request } }],
      triggerMetadata: {},
    },
    metadata: fn.metadata,
    log,
  };
  const invocation = await programmingModel().getInvocationModel(coreContext);
  const { context, inputs } = await invocation.getArguments();
  coreContext.state = 'invocation';
  let result: unknown;
  try {
    result = await invocation.invokeFunction(context, inputs, fn.callback);
  } finally {
    coreContext.state = undefined;
  }
  const response = (await invocation.getResponse(context, result)).returnValue?.http ?? {};
  return {
    // A function that returns nothing is answered 200 with an empty body.
    status: response.statusCode === undefined ? 200 : Number(response.statusCode),
    headers: response.headers ?? {},
    setCookies: (response.cookies ?? []).map(setCookieOf),
    body: bodyOf(response.body),
  };
}

function bodyOf(body: RpcHttpResponse['body']): Buffer {
  if (body?.bytes !== undefined) return Buffer.from(body.bytes);
  if (body?.string !== undefined) return Buffer.from(body.string);
  return Buffer.alloc(0);
}

const SAME_SITE = { lax: 'lax', strict: 'strict', explicitNone: 'none', none: undefined } as const;

function setCookieOf(cookie: RpcHttpCookie): string {
  const expires = cookie.expires?.value?.seconds;
  return serializeCookie(cookie.name, cookie.value, {
    domain: cookie.domain?.value,
    path: cookie.path?.value,
    expires: expires === undefined ? undefined : new Date(expires * 1000),
    secure: cookie.secure?.value,
    httpOnly: cookie.httpOnly?.value,
    sameSite: SAME_SITE[cookie.sameSite ?? 'none'],
    maxAge: cookie.maxAge?.value,
  });
}
