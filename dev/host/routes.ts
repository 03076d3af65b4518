/**
 * Route templates as the Functions host reads them (ASP.NET routing): literal segments match without
 * case, `{name}` takes one segment, `{name?}` an optional last segment, `{name:constraint}` a segment that
 * meets the constraint, `{*name}` the rest of the path. Values are percent-decoded per segment after
 * matching, so an encoded `/` stays inside its parameter.
 */
type Segment =
  | { kind: 'literal'; text: string }
  | { kind: 'param'; name: string; optional: boolean; constraint: string | undefined }
  | { kind: 'catchAll'; name: string };

export interface CompiledRoute {
  template: string;
  segments: Segment[];
  /**
   * Higher sorts first. As the Functions host orders routes (WebJobsRouteBuilder.RouteComparison), templates
   * compare segment by segment from the left: at the first difference a literal beats a constrained
   * parameter, which beats a parameter, which beats a catch-all; a template that goes on beats one that ended.
   */
  precedence: number;
}

/** Segments that count towards precedence: 5^20 stays well inside Number.MAX_SAFE_INTEGER. */
const PRECEDENCE_SEGMENTS = 20;

function precedenceDigit(segment: Segment | undefined): number {
  if (segment === undefined) return 0;
  if (segment.kind === 'literal') return 4;
  if (segment.kind === 'catchAll') return 1;
  return segment.constraint === undefined ? 2 : 3;
}

export function compileRoute(template: string): CompiledRoute {
  const trimmed = template.replace(/^\/+|\/+$/g, '');
  const segments: Segment[] = trimmed === '' ? [] : trimmed.split('/').map(parseSegment);
  segments.forEach((segment, index) => {
    const last = index === segments.length - 1;
    if (segment.kind === 'catchAll' && !last)
      throw new Error(`Route "${template}": a catch-all must come last`);
    if (segment.kind === 'param' && segment.optional && !last) {
      throw new Error(`Route "${template}": only the last parameter may be optional`);
    }
  });
  let precedence = 0;
  for (let i = 0; i < PRECEDENCE_SEGMENTS; i++) precedence = precedence * 5 + precedenceDigit(segments[i]);
  return { template, segments, precedence };
}

function parseSegment(text: string): Segment {
  const match = /^\{(\*)?([A-Za-z_][A-Za-z0-9_]*)(?::([^}?]+))?(\?)?\}$/.exec(text);
  if (!match) {
    if (text.includes('{') || text.includes('}')) throw new Error(`Unsupported route segment "${text}"`);
    return { kind: 'literal', text: text.toLowerCase() };
  }
  const [, star, name = '', constraint, optional] = match;
  if (star) return { kind: 'catchAll', name };
  return { kind: 'param', name, optional: optional === '?', constraint };
}

function meetsConstraint(value: string, constraint: string | undefined): boolean {
  switch (constraint) {
    case undefined:
      return true;
    case 'int':
    case 'long':
      return /^-?\d+$/.test(value);
    case 'alpha':
      return /^[A-Za-z]+$/.test(value);
    case 'guid':
      return /^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$/.test(value);
    case 'bool':
      return /^(true|false)$/i.test(value);
    default:
      // Constraints we do not know are not enforced, as a lenient host would; the app still validates.
      return true;
  }
}

function decode(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

/** Matches a raw (still percent-encoded) path, without the route prefix, against a compiled route. */
export function matchRoute(route: CompiledRoute, rawPath: string): Record<string, string> | undefined {
  const trimmed = rawPath.replace(/^\/+|\/+$/g, '');
  const parts = trimmed === '' ? [] : trimmed.split('/');
  const params: Record<string, string> = {};
  for (let i = 0; i < route.segments.length; i++) {
    const segment = route.segments[i] as Segment;
    if (segment.kind === 'catchAll') {
      const rest = parts.slice(i).map(decode);
      if (rest.some((part) => part === undefined)) return undefined;
      params[segment.name] = rest.join('/');
      return params;
    }
    const part = parts[i];
    if (part === undefined) {
      if (segment.kind === 'param' && segment.optional) return params;
      return undefined;
    }
    const value = decode(part);
    if (value === undefined) return undefined;
    if (segment.kind === 'literal') {
      if (value.toLowerCase() !== segment.text) return undefined;
    } else {
      // As ASP.NET routing: an empty segment gives a required parameter no value, so the route does not match.
      if (value === '' && !segment.optional) return undefined;
      if (!meetsConstraint(value, segment.constraint)) return undefined;
      params[segment.name] = value;
    }
  }
  return parts.length === route.segments.length ? params : undefined;
}
