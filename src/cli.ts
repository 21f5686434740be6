import { main } from './platform/cli.js';

// Ctrl-Z: stopped between two turns of the event loop, never inside a commit (FileStore's file calls are synchronous).
// Stopped inside one, the CLI would hold the queue's lock, and every live process's commits would fail ERR_LOCKED until
// it is resumed.
process.on('SIGTSTP', () => process.kill(process.pid, 'SIGSTOP'));

process.exitCode = await main(process.argv.slice(2));
