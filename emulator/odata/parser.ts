/**
 * Parser and type checker for the Web PubSub filter language.
 *
 * Grammar: learn.microsoft.com/azure/azure-web-pubsub/reference-odata-filter ("Formal grammar"). Where that
 * page is silent the behaviour follows the parser the service's own emulator uses (Microsoft.OData's
 * UriQueryExpressionParser, via tools/emulator/src/.../ODataFilterExecutor.cs in Azure/azure-webpubsub):
 * - precedence, loosest first: or, and, comparisons (left-associative), not, in; `in` binding tighter than
 *   `not` and the comparisons is OData's order (`not 'g' in groups` is `not ('g' in groups)`);
 * - keywords, literals (true, false, null) and function names are lowercase and compared exactly
 *   (`EQ` is an error); the identifiers userId, connectionId and groups are case-insensitive (the docs say so);
 * - integers are 32-bit; gt/ge/lt/le compare integers only (`userId lt 1` is the runtime's
 *   "Type 'string', expect 'int'" error).
 *
 * Type errors are found here, once, from the shape of the filter rather than from one connection's data, so
 * the compiled predicate can never throw while a message is fanned out.
 */
import { FilterSyntaxError } from './errors';
import { type Token, isBlank, tokenize } from './lexer';

/**
 * The service documents no character limit, only that filters of "over 100 clauses" risk rejection. 8 KiB
 * is Kestrel's default request-line limit, which caps any filter the .NET emulator can receive in a URL.
 */
export const MAX_FILTER_LENGTH = 8192;
/**
 * Parentheses, not, function calls, in-lists and chained comparisons each nest one level. The parser and the
 * compiled predicate recurse once per level, so this bounds both stacks; real filters stay below 5.
 */
export const MAX_FILTER_DEPTH = 32;

export type ValueType = 'bool' | 'int' | 'string' | 'null' | 'collection';
export type Identifier = 'userId' | 'connectionId' | 'groups';
export type Comparison = 'eq' | 'ne' | 'gt' | 'ge' | 'lt' | 'le';
export type FunctionName =
  | 'contains'
  | 'startswith'
  | 'endswith'
  | 'length'
  | 'tolower'
  | 'toupper'
  | 'trim'
  | 'concat'
  | 'indexof'
  | 'substring';

interface Span {
  readonly start: number;
  readonly end: number;
  readonly type: ValueType;
}

export type Expr =
  | (Span & { readonly kind: 'literal'; readonly value: string | number | boolean | null })
  | (Span & { readonly kind: 'identifier'; readonly name: Identifier })
  | (Span & { readonly kind: 'and' | 'or'; readonly operands: readonly Expr[] })
  | (Span & { readonly kind: 'not'; readonly operand: Expr })
  | (Span & { readonly kind: 'compare'; readonly op: Comparison; readonly left: Expr; readonly right: Expr })
  | (Span & { readonly kind: 'inList'; readonly item: Expr; readonly list: readonly Expr[] })
  | (Span & { readonly kind: 'inCollection'; readonly item: Expr; readonly collection: Expr })
  | (Span & { readonly kind: 'call'; readonly name: FunctionName; readonly args: readonly Expr[] });

/** 'string' parameters also take null (the functions answer null or false for it, as OData does). */
type Parameter = 'string' | 'int' | 'string or collection';

const FUNCTIONS: Readonly<
  Record<
    FunctionName,
    { readonly params: readonly Parameter[]; readonly required: number; readonly returns: ValueType }
  >
> = {
  contains: { params: ['string', 'string'], required: 2, returns: 'bool' },
  startswith: { params: ['string', 'string'], required: 2, returns: 'bool' },
  endswith: { params: ['string', 'string'], required: 2, returns: 'bool' },
  length: { params: ['string or collection'], required: 1, returns: 'int' },
  tolower: { params: ['string'], required: 1, returns: 'string' },
  toupper: { params: ['string'], required: 1, returns: 'string' },
  trim: { params: ['string'], required: 1, returns: 'string' },
  concat: { params: ['string', 'string'], required: 2, returns: 'string' },
  indexof: { params: ['string', 'string'], required: 2, returns: 'int' },
  substring: { params: ['string', 'int', 'int'], required: 2, returns: 'string' },
};

const IDENTIFIERS: ReadonlyMap<string, Identifier> = new Map([
  ['userid', 'userId'],
  ['connectionid', 'connectionId'],
  ['groups', 'groups'],
]);

const COMPARISONS: ReadonlySet<string> = new Set<Comparison>(['eq', 'ne', 'gt', 'ge', 'lt', 'le']);
const KEYWORDS: ReadonlySet<string> = new Set([
  ...COMPARISONS,
  'and',
  'or',
  'not',
  'in',
  'true',
  'false',
  'null',
]);

const A_VALUE =
  "a value: a 'string', an integer, true, false, null, userId, connectionId, groups, a function call or '('";

const isFunctionName = (name: string): name is FunctionName => Object.hasOwn(FUNCTIONS, name);
const isComparison = (word: string): word is Comparison => COMPARISONS.has(word);

export function parseFilter(text: string): Expr {
  if (text.length > MAX_FILTER_LENGTH) {
    throw new FilterSyntaxError(
      `the filter is ${text.length} characters long; the limit is ${MAX_FILTER_LENGTH}`,
      MAX_FILTER_LENGTH,
    );
  }
  if (isBlank(text)) {
    throw new FilterSyntaxError('the filter is empty', 0);
  }
  return new Parser(text, tokenize(text)).parse();
}

class Parser {
  private index = 0;
  private depth = 0;

  constructor(
    private readonly text: string,
    private readonly tokens: readonly Token[],
  ) {}

  parse(): Expr {
    const expr = this.parseOr();
    const next = this.peek();
    if (next.kind !== 'end') {
      throw this.unexpected(
        next,
        "'and', 'or', a comparison (eq, ne, gt, ge, lt, le), 'in' or the end of the filter",
      );
    }
    this.requireBoolean(expr, 'a filter');
    return expr;
  }

  private parseOr(): Expr {
    return this.parseLogical('or', () => this.parseAnd());
  }

  private parseAnd(): Expr {
    return this.parseLogical('and', () => this.parseComparison());
  }

  /** Runs of one operator become one node, so a long `a or b or c ...` adds no depth. */
  private parseLogical(op: 'and' | 'or', operand: () => Expr): Expr {
    const first = operand();
    if (!this.atKeyword(op)) return first;
    const operands = [first];
    while (this.atKeyword(op)) {
      this.advance();
      operands.push(operand());
    }
    for (const each of operands) this.requireBoolean(each, `'${op}'`);
    const last = operands[operands.length - 1] ?? first;
    return { kind: op, operands, start: first.start, end: last.end, type: 'bool' };
  }

  private parseComparison(): Expr {
    let left = this.parseUnary();
    const depthBefore = this.depth;
    for (let chained = 0; ; chained++) {
      const token = this.peek();
      if (token.kind !== 'word' || !isComparison(token.text)) break;
      if (chained > 0) this.enter(token);
      this.advance();
      const right = this.parseUnary();
      left = this.comparison(token.text, left, right);
    }
    this.depth = depthBefore;
    return left;
  }

  private comparison(op: Comparison, left: Expr, right: Expr): Expr {
    for (const side of [left, right]) {
      if (side.type === 'collection') {
        throw this.typeError(side, `'${op}' cannot compare a collection; use 'in' or length() with it`);
      }
      if (op !== 'eq' && op !== 'ne' && side.type !== 'int' && side.type !== 'null') {
        throw this.typeError(side, `'${op}' compares integers, but ${this.describe(side)}`);
      }
    }
    return { kind: 'compare', op, left, right, start: left.start, end: right.end, type: 'bool' };
  }

  private parseUnary(): Expr {
    const token = this.peek();
    if (!this.atKeyword('not')) return this.parseIn();
    this.enter(token);
    this.advance();
    const operand = this.parseUnary();
    this.leave();
    this.requireBoolean(operand, "'not'");
    return { kind: 'not', operand, start: token.start, end: operand.end, type: 'bool' };
  }

  private parseIn(): Expr {
    let item = this.parsePrimary();
    const depthBefore = this.depth;
    for (let chained = 0; this.atKeyword('in'); chained++) {
      const token = this.peek();
      if (chained > 0) this.enter(token);
      this.advance();
      if (item.type === 'collection') {
        throw this.typeError(
          item,
          `the left side of 'in' must be a single value, but ${this.describe(item)}`,
        );
      }
      item = this.peek().kind === '(' ? this.inList(item) : this.inCollection(item, this.parsePrimary());
    }
    this.depth = depthBefore;
    return item;
  }

  private inList(item: Expr): Expr {
    const open = this.expect('(', "'('");
    this.enter(open);
    const list: Expr[] = [];
    for (;;) {
      list.push(this.parseOr());
      const next = this.peek();
      if (next.kind === ')') break;
      if (next.kind !== ',') {
        throw this.unexpected(next, `',' or ')' to continue the list that opens at position ${open.start}`);
      }
      this.advance();
    }
    const close = this.advance();
    this.leave();
    const only = list.length === 1 ? list[0] : undefined;
    // `'g' in (groups)`: the grammar lets a collection stand in parentheses.
    if (only?.type === 'collection') return this.inCollection(item, only, close.end);
    for (const value of list) {
      if (value.type === 'collection') {
        throw this.typeError(value, `a list after 'in' holds single values, but ${this.describe(value)}`);
      }
    }
    return { kind: 'inList', item, list, start: item.start, end: close.end, type: 'bool' };
  }

  private inCollection(item: Expr, collection: Expr, end = collection.end): Expr {
    if (collection.type !== 'collection') {
      throw this.typeError(
        collection,
        `the right side of 'in' must be a parenthesized list such as ('a','b') or the collection groups, but ${this.describe(collection)}`,
      );
    }
    return { kind: 'inCollection', item, collection, start: item.start, end, type: 'bool' };
  }

  private parsePrimary(): Expr {
    const token = this.advance();
    switch (token.kind) {
      case 'string':
        return { kind: 'literal', value: token.value, start: token.start, end: token.end, type: 'string' };
      case 'int':
        return { kind: 'literal', value: token.value, start: token.start, end: token.end, type: 'int' };
      case '(': {
        this.enter(token);
        const inner = this.parseOr();
        const close = this.peek();
        if (close.kind !== ')') {
          throw this.unexpected(close, `')' to close the '(' at position ${token.start}`);
        }
        this.advance();
        this.leave();
        return { ...inner, start: token.start, end: close.end };
      }
      case 'word':
        return this.peek().kind === '(' ? this.call(token) : this.word(token);
      default:
        throw this.unexpected(token, A_VALUE);
    }
  }

  private word(token: Token & { kind: 'word' }): Expr {
    const { text, start, end } = token;
    if (text === 'true' || text === 'false') {
      return { kind: 'literal', value: text === 'true', start, end, type: 'bool' };
    }
    if (text === 'null') return { kind: 'literal', value: null, start, end, type: 'null' };
    if (KEYWORDS.has(text)) throw this.unexpected(token, A_VALUE);
    const name = IDENTIFIERS.get(text.toLowerCase());
    if (name === undefined) {
      const lower = text.toLowerCase();
      const hint = KEYWORDS.has(lower)
        ? `; keywords and literals are lowercase: '${lower}'`
        : '; a filter can use userId, connectionId and groups';
      throw new FilterSyntaxError(`unknown identifier '${text}'${hint}`, start);
    }
    return { kind: 'identifier', name, start, end, type: name === 'groups' ? 'collection' : 'string' };
  }

  private call(token: Token & { kind: 'word' }): Expr {
    const name = token.text;
    if (!isFunctionName(name)) {
      const lower = name.toLowerCase();
      const hint = isFunctionName(lower)
        ? `; function names are lowercase: '${lower}'`
        : KEYWORDS.has(lower)
          ? `; keywords are lowercase: '${lower}'`
          : `; the functions are ${Object.keys(FUNCTIONS).join(', ')}`;
      throw new FilterSyntaxError(`unknown function '${name}'${hint}`, token.start);
    }
    const open = this.advance();
    this.enter(open);
    const args: Expr[] = [];
    if (this.peek().kind !== ')') {
      for (;;) {
        args.push(this.parseOr());
        const next = this.peek();
        if (next.kind === ')') break;
        if (next.kind !== ',') {
          throw this.unexpected(
            next,
            `',' or ')' in the arguments of ${name}() that open at position ${open.start}`,
          );
        }
        this.advance();
      }
    }
    const close = this.advance();
    this.leave();

    const signature = FUNCTIONS[name];
    if (args.length < signature.required || args.length > signature.params.length) {
      const expected =
        signature.required === signature.params.length
          ? `${signature.required}`
          : `${signature.required} or ${signature.params.length}`;
      throw new FilterSyntaxError(
        `${name}() takes ${expected} argument${expected === '1' ? '' : 's'}, but ${args.length} ${args.length === 1 ? 'was' : 'were'} given`,
        token.start,
      );
    }
    args.forEach((arg, i) => {
      const param = signature.params[i] ?? 'string';
      const accepted =
        param === 'int'
          ? arg.type === 'int'
          : arg.type === 'string' ||
            arg.type === 'null' ||
            (param === 'string or collection' && arg.type === 'collection');
      if (!accepted) {
        const wanted =
          param === 'int' ? 'an integer' : param === 'string' ? 'a string' : 'a string or a collection';
        throw this.typeError(
          arg,
          `argument ${i + 1} of ${name}() must be ${wanted}, but ${this.describe(arg)}`,
        );
      }
    });
    return { kind: 'call', name, args, start: token.start, end: close.end, type: signature.returns };
  }

  private requireBoolean(expr: Expr, what: string): void {
    if (expr.type !== 'bool') {
      throw this.typeError(expr, `${what} needs a true/false condition, but ${this.describe(expr)}`);
    }
  }

  private describe(expr: Expr): string {
    const kinds: Record<ValueType, string> = {
      bool: 'a boolean',
      int: 'an integer',
      string: 'a string',
      null: 'null',
      collection: 'a collection',
    };
    let shown = this.text.slice(expr.start, expr.end);
    if (shown.length > 40) shown = `${shown.slice(0, 37)}...`;
    return `${shown} is ${kinds[expr.type]}`;
  }

  private typeError(expr: Expr, detail: string): FilterSyntaxError {
    return new FilterSyntaxError(detail, expr.start);
  }

  private unexpected(token: Token, expected: string): FilterSyntaxError {
    let found: string;
    let hint = '';
    switch (token.kind) {
      case 'end':
        found = 'the end of the filter';
        break;
      case 'string':
        found = `the string ${this.text.slice(token.start, token.end)}`;
        break;
      case 'int':
        found = `the integer ${token.value}`;
        break;
      case 'word': {
        found = `'${token.text}'`;
        const lower = token.text.toLowerCase();
        if (lower !== token.text && KEYWORDS.has(lower)) hint = `; keywords are lowercase: '${lower}'`;
        break;
      }
      default:
        found = `'${token.kind}'`;
    }
    return new FilterSyntaxError(`expected ${expected}, found ${found}${hint}`, token.start);
  }

  private enter(token: Token): void {
    this.depth++;
    if (this.depth > MAX_FILTER_DEPTH) {
      throw new FilterSyntaxError(
        `the filter nests more than ${MAX_FILTER_DEPTH} levels deep (each parenthesis, not, function call, in-list and chained comparison is a level)`,
        token.start,
      );
    }
  }

  private leave(): void {
    this.depth--;
  }

  private atKeyword(keyword: string): boolean {
    const token = this.peek();
    return token.kind === 'word' && token.text === keyword;
  }

  private expect(kind: Token['kind'], what: string): Token {
    const token = this.peek();
    if (token.kind !== kind) throw this.unexpected(token, what);
    return this.advance();
  }

  private peek(): Token {
    // tokenize() always ends the list with an 'end' token, and advance() never moves past it.
    return this.tokens[this.index] ?? (this.tokens[this.tokens.length - 1] as Token);
  }

  private advance(): Token {
    const token = this.peek();
    if (token.kind !== 'end') this.index++;
    return token;
  }
}
