import { startScanner } from './app.js';

await startScanner();
