/**
 * Turns a type-checked filter into a closure tree that runs once per connection during a fan-out.
 *
 * Null semantics follow the official emulator (Azure/azure-webpubsub tools/emulator ODataFilterExecutor.cs),
 * written by the service team to match the service: a connection without a user has userId null; string
 * functions of null give null (length, tolower, toupper, trim, substring) or false (contains, startswith,
 * endswith); indexof of null is -1; concat treats one null side as empty and gives null only for two;
 * gt/ge/lt/le with a null side are false; eq/ne compare values and their types exactly, so null eq null.
 */
import { WHITESPACE_CLASS } from './lexer';
import type { Expr } from './parser';

export interface FilterTarget {
  connectionId: string;
  userId: string | undefined;
  groups: ReadonlySet<string>;
}

type Value = string | number | boolean | null | ReadonlySet<string>;
type Evaluate = (connection: FilterTarget) => Value;
type Predicate = (connection: FilterTarget) => boolean;

export function compile(expr: Expr): Predicate {
  const evaluate = compileValue(expr);
  return (connection) => evaluate(connection) === true;
}

function compileValue(expr: Expr): Evaluate {
  switch (expr.kind) {
    case 'literal': {
      const value = expr.value;
      return () => value;
    }
    case 'identifier':
      return IDENTIFIERS[expr.name];
    case 'and': {
      const operands = expr.operands.map(compileValue);
      return (c) => {
        for (const operand of operands) if (operand(c) !== true) return false;
        return true;
      };
    }
    case 'or': {
      const operands = expr.operands.map(compileValue);
      return (c) => {
        for (const operand of operands) if (operand(c) === true) return true;
        return false;
      };
    }
    case 'not': {
      const operand = compileValue(expr.operand);
      return (c) => operand(c) !== true;
    }
    case 'compare':
      return compileComparison(expr.op, compileValue(expr.left), compileValue(expr.right));
    case 'inList': {
      const item = compileValue(expr.item);
      const literals = expr.list.flatMap((entry) => (entry.kind === 'literal' ? [entry.value] : []));
      if (literals.length === expr.list.length) {
        // The usual shape, `userId in ('a','b',...)`, becomes one hash lookup however long the list.
        const values = new Set<Value>(literals);
        return (c) => values.has(item(c));
      }
      const list = expr.list.map(compileValue);
      return (c) => {
        const value = item(c);
        for (const entry of list) if (entry(c) === value) return true;
        return false;
      };
    }
    case 'inCollection': {
      const item = compileValue(expr.item);
      const collection = compileValue(expr.collection);
      return (c) => {
        const value = item(c);
        const members = collection(c);
        return typeof value === 'string' && isCollection(members) && members.has(value);
      };
    }
    case 'call':
      return compileCall(expr.name, expr.args.map(compileValue));
  }
}

const IDENTIFIERS: Readonly<Record<Extract<Expr, { kind: 'identifier' }>['name'], Evaluate>> = {
  userId: (c) => c.userId ?? null,
  connectionId: (c) => c.connectionId,
  groups: (c) => c.groups,
};

function compileComparison(
  op: Extract<Expr, { kind: 'compare' }>['op'],
  left: Evaluate,
  right: Evaluate,
): Evaluate {
  switch (op) {
    case 'eq':
      return (c) => left(c) === right(c);
    case 'ne':
      return (c) => left(c) !== right(c);
    default: {
      const test = ORDERINGS[op];
      return (c) => {
        const a = left(c);
        const b = right(c);
        return typeof a === 'number' && typeof b === 'number' && test(a, b);
      };
    }
  }
}

const ORDERINGS: Readonly<Record<'gt' | 'ge' | 'lt' | 'le', (a: number, b: number) => boolean>> = {
  gt: (a, b) => a > b,
  ge: (a, b) => a >= b,
  lt: (a, b) => a < b,
  le: (a, b) => a <= b,
};

function compileCall(name: Extract<Expr, { kind: 'call' }>['name'], args: readonly Evaluate[]): Evaluate {
  const [first = nothing, second = nothing, third] = args;
  switch (name) {
    case 'length':
      return (c) => {
        const value = first(c);
        return typeof value === 'string' ? value.length : isCollection(value) ? value.size : null;
      };
    case 'tolower':
      return unary(first, (s) => mapCodePoints(s, (ch) => ch.toLowerCase()));
    case 'toupper':
      return unary(first, (s) => mapCodePoints(s, (ch) => ch.toUpperCase()));
    case 'trim':
      return unary(first, (s) => s.replace(LEADING_SPACE, '').replace(TRAILING_SPACE, ''));
    case 'contains':
      return binary(first, second, false, (s, t) => s.includes(t));
    case 'startswith':
      return binary(first, second, false, (s, t) => s.startsWith(t));
    case 'endswith':
      return binary(first, second, false, (s, t) => s.endsWith(t));
    case 'indexof':
      return binary(first, second, -1, (s, t) => s.indexOf(t));
    case 'concat':
      return (c) => {
        const s = text(first(c));
        const t = text(second(c));
        return s === null ? t : t === null ? s : s + t;
      };
    case 'substring':
      return (c) => substring(text(first(c)), second(c), third === undefined ? undefined : third(c));
  }
}

const nothing: Evaluate = () => null;

const text = (value: Value): string | null => (typeof value === 'string' ? value : null);

const isCollection = (value: Value): value is ReadonlySet<string> =>
  typeof value === 'object' && value !== null;

function unary(arg: Evaluate, apply: (s: string) => string): Evaluate {
  return (c) => {
    const s = text(arg(c));
    return s === null ? null : apply(s);
  };
}

function binary<T extends Value>(
  left: Evaluate,
  right: Evaluate,
  ifNull: T,
  apply: (s: string, t: string) => T,
): Evaluate {
  return (c) => {
    const s = text(left(c));
    const t = text(right(c));
    return s === null || t === null ? ifNull : apply(s, t);
  };
}

/** Out-of-range bounds give null rather than an error, as the official emulator does. */
function substring(s: string | null, start: Value, length: Value | undefined): string | null {
  if (s === null || typeof start !== 'number' || start < 0 || start > s.length) return null;
  if (length === undefined) return s.slice(start);
  if (typeof length !== 'number' || length < 0 || length > s.length - start) return null;
  return s.slice(start, start + length);
}

/**
 * .NET's ToLowerInvariant/ToUpperInvariant, which the service side uses, map each character on its own and
 * never change a string's length; JavaScript's full mapping turns 'ß' into 'SS' and lowercases a final
 * sigma by context. Mapping code point by code point, and keeping those that would grow, stays with .NET.
 */
function mapCodePoints(s: string, map: (ch: string) => string): string {
  let out = '';
  for (const ch of s) {
    const mapped = map(ch);
    out += mapped.length === ch.length ? mapped : ch;
  }
  return out;
}

/** .NET's String.Trim() removes the same characters its lexer skips (see lexer.ts), not JavaScript's set. */
const LEADING_SPACE = new RegExp(`^[${WHITESPACE_CLASS}]+`);
const TRAILING_SPACE = new RegExp(`[${WHITESPACE_CLASS}]+$`);
