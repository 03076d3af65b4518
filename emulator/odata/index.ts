/**
 * The `filter` of Web PubSub's send-to-all, send-to-user and send-to-group operations (and of
 * :addToGroups / :removeFromGroups): an OData boolean expression over a connection's userId,
 * connectionId and groups. See parser.ts for the grammar and its sources, evaluate.ts for the semantics.
 *
 * compileFilter parses and type-checks once and throws FilterSyntaxError for anything the service would
 * answer with 400; the predicate it returns never throws. An absent or empty `filter` parameter means
 * "no filter" to the service: callers check for that themselves, since compileFilter('') is an error.
 */
import { compile, type FilterTarget } from './evaluate';
import { parseFilter } from './parser';

export { FilterSyntaxError } from './errors';
export { MAX_FILTER_DEPTH, MAX_FILTER_LENGTH } from './parser';
export type { FilterTarget };

export function compileFilter(text: string): (connection: FilterTarget) => boolean {
  return compile(parseFilter(text));
}
