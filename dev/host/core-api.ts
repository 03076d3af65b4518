/**
 * Our stand-in for `@azure/functions-core`, the module the real Functions worker supplies to the app.
 * @azure/functions registers every `app.http(...)` through it, so capturing those calls here gives the
 * local host the app's own route table: one source of truth, nothing kept by hand.
 */
export interface BindingMetadata {
  type: string;
  direction?: string;
  route?: string;
  methods?: string[];
  authLevel?: string;
  [key: string]: unknown;
}

export interface FunctionMetadata {
  name: string;
  bindings: Record<string, BindingMetadata>;
  retryOptions?: unknown;
}

export type FunctionCallback = (...args: unknown[]) => unknown;
export type HookCallback = (context: unknown) => unknown;

export interface RegisteredFunction {
  metadata: FunctionMetadata;
  callback: FunctionCallback;
}

const functions: RegisteredFunction[] = [];
const hooks = new Map<string, HookCallback[]>();
let programmingModel: unknown;

export function setProgrammingModel(model: unknown): void {
  programmingModel = model;
}

export function getProgrammingModel(): unknown {
  return programmingModel;
}

export function registerFunction(
  metadata: FunctionMetadata,
  callback: FunctionCallback,
): { dispose(): void } {
  if (functions.some((fn) => fn.metadata.name.toLowerCase() === metadata.name.toLowerCase())) {
    // The real worker refuses duplicate names too; silently keeping both would hide a bug.
    throw new Error(`A function named "${metadata.name}" is already registered`);
  }
  const entry = { metadata, callback };
  functions.push(entry);
  return {
    dispose() {
      const index = functions.indexOf(entry);
      if (index >= 0) functions.splice(index, 1);
    },
  };
}

export function registerHook(name: string, callback: HookCallback): { dispose(): void } {
  const list = hooks.get(name) ?? [];
  list.push(callback);
  hooks.set(name, list);
  return {
    dispose() {
      const index = list.indexOf(callback);
      if (index >= 0) list.splice(index, 1);
    },
  };
}

export function log(level: string, category: string, message: string): void {
  if (level === 'error' || level === 'warning') console.error(`[${category}] ${message}`);
}

export const localHostInternals = {
  functions: (): readonly RegisteredFunction[] => functions,
  hooks: (name: string): readonly HookCallback[] => hooks.get(name) ?? [],
  reset(): void {
    functions.length = 0;
    hooks.clear();
  },
};
