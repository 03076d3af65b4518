import { resolve } from 'node:path';

// Compiled files live in dist/bench/lib, three levels below the repository root.
export const repoRoot = resolve(__dirname, '..', '..', '..');
export const serversDir = resolve(__dirname, '..', 'servers');
