/**
 * A lexical check of an OData `filter` before it goes to the service: string literals are single-quoted with
 * `''` as the escaped quote (what the SDK's `odata` helper produces), and outside them only the characters of
 * the service's filter grammar may appear (identifiers, integers, `( ) ,`, `+ -`, whitespace). The service
 * parses and evaluates the filter itself and answers 400 for a grammatical error, which we pass on; this check
 * catches what is plainly not a filter (quotes of another kind, `;`, `$`, control characters, an unterminated
 * literal, unbalanced parentheses) without a round trip, and names the position.
 *
 * Written by hand because no library parses the service's OData subset; a full parser would duplicate the
 * service's and drift from it.
 */
const OUTSIDE_LITERAL = /[A-Za-z0-9_.,+\- \t\r\n]/;

export function filterProblem(filter: string): string | undefined {
  if (filter.trim() === '') return 'must not be empty';
  let depth = 0;
  for (let i = 0; i < filter.length; i++) {
    const c = filter.charAt(i);
    if (c === "'") {
      const start = i;
      i++;
      for (;;) {
        if (i >= filter.length) return `has a string literal opened at position ${start} and never closed`;
        if (filter.charAt(i) === "'") {
          if (filter.charAt(i + 1) !== "'") break;
          i++;
        }
        i++;
      }
      continue;
    }
    if (c === '(') {
      depth++;
    } else if (c === ')') {
      depth--;
      if (depth < 0) return `has a ")" at position ${i} that closes nothing`;
    } else if (!OUTSIDE_LITERAL.test(c)) {
      return `has ${JSON.stringify(c)} at position ${i}, which is not part of the filter syntax (string values go in single quotes, with ' written as '')`;
    }
  }
  if (depth > 0) return `has ${depth} unclosed "("`;
  return undefined;
}
