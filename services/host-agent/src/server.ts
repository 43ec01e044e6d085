import { startAgent } from './app.js';

await startAgent();
