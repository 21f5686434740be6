import { main } from './platform/cli.js';

process.exitCode = await main(process.argv.slice(2));
