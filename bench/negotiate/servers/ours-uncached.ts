import { serveOurs } from './ours-server';

serveOurs(false);
