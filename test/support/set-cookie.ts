/**
 * A Set-Cookie value in a comparable form: its name=value first, then its attributes sorted, attribute names
 * lower-cased. Attribute order and the case of attribute names are not significant (RFC 6265 §5.2).
 */
export function cookieAttributes(setCookie: string): string[] {
  return setCookie
    .split(';')
    .map((part, i) => {
      const trimmed = part.trim();
      const eq = trimmed.indexOf('=');
      if (i === 0 || eq < 0) return i === 0 ? trimmed : trimmed.toLowerCase();
      return `${trimmed.slice(0, eq).toLowerCase()}=${trimmed.slice(eq + 1)}`;
    })
    .sort();
}
