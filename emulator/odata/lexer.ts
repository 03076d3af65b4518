/**
 * Tokens of the Web PubSub filter language (learn.microsoft.com/azure/azure-web-pubsub/reference-odata-filter,
 * "Formal grammar"). Only what that grammar uses is recognised; everything else in OData (decimals, dates,
 * GUIDs, paths, `$it`, `@alias`, arithmetic) is refused here with the offending text and its position.
 */
import { FilterSyntaxError } from './errors';

export type Token =
  | { readonly kind: 'string'; readonly value: string; readonly start: number; readonly end: number }
  | { readonly kind: 'int'; readonly value: number; readonly start: number; readonly end: number }
  | { readonly kind: 'word'; readonly text: string; readonly start: number; readonly end: number }
  | { readonly kind: '(' | ')' | ','; readonly start: number; readonly end: number }
  | { readonly kind: 'end'; readonly start: number; readonly end: number };

/**
 * The characters .NET's char.IsWhiteSpace accepts (the service and its emulator are .NET, and OData's lexer
 * skips whitespace with that test). JavaScript's \s differs: it has U+FEFF and lacks U+0085.
 */
export const WHITESPACE_CLASS =
  '\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const WHITESPACE = new RegExp(`[${WHITESPACE_CLASS}]`);
const WORD_START = /[\p{L}_]/u;
const WORD_PART = /[\p{L}\p{Nd}_]/u;
const DIGIT = /[0-9]/;
/** Text that glues onto a number and makes it something other than a whole number (1.5, 1e3, 10L, 1abc). */
const NUMBER_TAIL = /[\p{L}\p{Nd}_.]/u;

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;

const BLANK = new RegExp(`^[${WHITESPACE_CLASS}]*$`);

export function isBlank(text: string): boolean {
  return BLANK.test(text);
}

export function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const ch = text.charAt(i);
    if (WHITESPACE.test(ch)) {
      i++;
    } else if (ch === '(' || ch === ')' || ch === ',') {
      tokens.push({ kind: ch, start: i, end: i + 1 });
      i++;
    } else if (ch === "'") {
      const token = readString(text, i);
      tokens.push(token);
      i = token.end;
    } else if (DIGIT.test(ch) || ((ch === '+' || ch === '-') && DIGIT.test(text.charAt(i + 1)))) {
      const token = readInteger(text, i);
      tokens.push(token);
      i = token.end;
    } else if (WORD_START.test(ch)) {
      let end = i + 1;
      while (end < text.length && WORD_PART.test(text.charAt(end))) end++;
      tokens.push({ kind: 'word', text: text.slice(i, end), start: i, end });
      i = end;
    } else {
      throw new FilterSyntaxError(unexpectedCharacter(text, i), i);
    }
  }
  tokens.push({ kind: 'end', start: text.length, end: text.length });
  return tokens;
}

/** A string literal: single quotes, with '' standing for one quote inside. */
function readString(text: string, start: number): Token {
  let value = '';
  let i = start + 1;
  for (;;) {
    const close = text.indexOf("'", i);
    if (close < 0) {
      throw new FilterSyntaxError(
        "the string literal that starts here is not closed: add the closing ' (a quote inside a string is written '')",
        start,
      );
    }
    value += text.slice(i, close);
    if (text.charAt(close + 1) === "'") {
      value += "'";
      i = close + 2;
    } else {
      return { kind: 'string', value, start, end: close + 1 };
    }
  }
}

function readInteger(text: string, start: number): Token {
  let end = start + 1;
  while (end < text.length && DIGIT.test(text.charAt(end))) end++;
  if (end < text.length && NUMBER_TAIL.test(text.charAt(end))) {
    let tail = end;
    while (tail < text.length && NUMBER_TAIL.test(text.charAt(tail))) tail++;
    throw new FilterSyntaxError(
      `'${text.slice(start, tail)}' is not a supported literal: numbers must be whole 32-bit integers`,
      start,
    );
  }
  const literal = text.slice(start, end);
  const value = Number(literal);
  if (value < INT32_MIN || value > INT32_MAX) {
    throw new FilterSyntaxError(`the integer ${literal} is outside the 32-bit range`, start);
  }
  return { kind: 'int', value, start, end };
}

function unexpectedCharacter(text: string, at: number): string {
  const ch = String.fromCodePoint(text.codePointAt(at) ?? 0);
  const shown = `unexpected character '${ch}'`;
  if (ch === '"') return `${shown}: string literals use single quotes, as in userId eq 'user1'`;
  if ('=<>!'.includes(ch)) return `${shown}: comparisons are written eq, ne, gt, ge, lt, le`;
  if (ch === '&' || ch === '|') return `${shown}: logical operators are written and, or, not`;
  if (ch === '+' || ch === '-') return `${shown}: arithmetic is not supported`;
  return shown;
}
