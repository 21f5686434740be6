// Starts WebKitWebDriver, the WebDriver server that drives WebKitGTK's MiniBrowser, on a free loopback port.
// web-test-runner's WebKit launcher, the end-to-end tests and the benchmark connect to it with webdriverio.
import { spawn } from 'node:child_process';
import { freePort } from './free-port.mjs';

/**
 * Starts the driver for `engine` (a WebKit entry of engines.mjs); under xvfb-run when there is no display, so that
 * MiniBrowser, which the driver starts per session, gets the virtual display. Resolves once the driver answers.
 * @returns {Promise<{ hostname: string, port: number, capabilities: object, stop(): Promise<void> }>}
 */
export async function startWebKitDriver(engine) {
  const port = await freePort();
  const driver = [engine.driverPath, `--port=${port}`];
  // xvfb-run -a takes the first free display from -n on; a random start keeps two runs starting at once (the
  // web-test-runner and the end-to-end part) from racing for the same one.
  const display = 100 + Math.floor(Math.random() * 800);
  const [command, ...args] = engine.xvfb ? ['xvfb-run', '-a', '-n', String(display), '-s', '-screen 0 1280x1024x24', ...driver] : driver;
  // A process group of its own, so that stopping it also stops Xvfb and the MiniBrowsers the driver started.
  const child = spawn(command, args, { detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
  let output = '';
  child.stderr.on('data', (chunk) => (output += chunk));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const kill = () => {
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {
      // already gone
    }
  };
  process.once('exit', kill);

  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`WebKitWebDriver exited (${child.exitCode}) before it answered: ${output.trim()}`);
    try {
      const response = await fetch(`http://127.0.0.1:${port}/status`);
      if (response.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      kill();
      throw new Error(`WebKitWebDriver did not answer on port ${port} within 30 s: ${output.trim()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }

  return {
    hostname: '127.0.0.1',
    port,
    capabilities: {
      browserName: 'MiniBrowser',
      'webkitgtk:browserOptions': { binary: engine.executablePath, args: ['--automation'] },
      // WebKitWebDriver speaks classic WebDriver; webdriverio would otherwise ask for a BiDi session first.
      'wdio:enforceWebDriverClassic': true,
    },
    async stop() {
      kill();
      await exited;
      process.removeListener('exit', kill);
    },
  };
}
