// Builds the demo page into web/dist: the TypeScript and @azure/web-pubsub-client bundled for the browser,
// next to the page and its stylesheet. `npm run build` runs this, so `npm start` always serves a fresh page.
import { build } from 'esbuild';
import { copyFile, mkdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const web = dirname(fileURLToPath(import.meta.url));
const dist = join(web, 'dist');

await rm(dist, { recursive: true, force: true });
await mkdir(dist, { recursive: true });
await build({
  entryPoints: [join(web, 'src', 'main.ts')],
  outfile: join(dist, 'app.js'),
  bundle: true,
  platform: 'browser',
  format: 'esm',
  target: 'es2022',
  minify: true,
  sourcemap: true,
  logLevel: 'warning',
});
await Promise.all(['index.html', 'styles.css'].map((file) => copyFile(join(web, file), join(dist, file))));
