import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { extname, isAbsolute, relative, resolve, sep } from 'node:path';

/**
 * Static files for the local host (the demo page in web/dist), for GET and HEAD only. Local development
 * only: the deployed app serves no files. The host calls it only for paths outside its route prefix, so it
 * can never shadow a function (or the development issuer, which is matched first).
 */
export interface StaticFilesOptions {
  /** Folder served at `/`; `/` itself is its index.html. */
  dir: string;
  /** The page for `/` when the folder or its index.html does not exist (e.g. how to build it). */
  missingIndexHtml?: string;
}

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.ico': 'image/x-icon',
  '.webp': 'image/webp',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.wasm': 'application/wasm',
};

/** The file a URL path names inside `root`, or undefined when the path is malformed or leaves the folder. */
export function resolveStaticPath(root: string, pathname: string): string | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(pathname);
  } catch {
    return undefined;
  }
  // Backslashes are separators on Windows and NUL ends strings in the OS: neither belongs in a page path.
  if (decoded.includes('\0') || decoded.includes('\\')) return undefined;
  const segments = decoded.split('/').filter((segment) => segment !== '');
  if (segments.some((segment) => segment === '..' || segment === '.')) return undefined;
  const base = resolve(root);
  const file = resolve(base, ...(segments.length === 0 ? ['index.html'] : segments));
  const inside = relative(base, file);
  if (inside === '' || inside.startsWith(`..${sep}`) || inside === '..' || isAbsolute(inside))
    return undefined;
  return file;
}

function send(res: ServerResponse, status: number, type: string, body: string, head: boolean): void {
  res.writeHead(status, {
    'content-type': type,
    'content-length': String(Buffer.byteLength(body)),
    'cache-control': 'no-cache',
    'x-content-type-options': 'nosniff',
  });
  res.end(head ? undefined : body);
}

/** Answers the request and returns its status. */
export async function serveStatic(
  options: StaticFilesOptions,
  pathname: string,
  method: string,
  res: ServerResponse,
): Promise<number> {
  const head = method === 'HEAD';
  const file = resolveStaticPath(options.dir, pathname);
  if (file === undefined) {
    send(res, 400, 'text/plain; charset=utf-8', 'Bad path\n', head);
    return 400;
  }
  const info = await stat(file).catch(() => undefined);
  if (!info?.isFile()) {
    const isIndex = pathname === '/' || pathname === '/index.html';
    if (isIndex && options.missingIndexHtml !== undefined) {
      send(res, 200, CONTENT_TYPES['.html'] as string, options.missingIndexHtml, head);
      return 200;
    }
    send(res, 404, 'text/plain; charset=utf-8', 'Not found\n', head);
    return 404;
  }
  res.writeHead(200, {
    'content-type': CONTENT_TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream',
    'content-length': String(info.size),
    'cache-control': 'no-cache',
    'x-content-type-options': 'nosniff',
  });
  if (head) {
    res.end();
    return 200;
  }
  await new Promise<void>((resolveSent, reject) => {
    const stream = createReadStream(file);
    stream.once('error', reject);
    res.once('finish', () => resolveSent());
    res.once('close', () => resolveSent());
    stream.pipe(res);
  });
  return 200;
}
