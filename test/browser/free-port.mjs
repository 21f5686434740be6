// A free TCP port on 127.0.0.1 for a server the browser tests start (a WebDriver, an engine's web-test-runner).
import { createServer } from 'node:net';

/** A port free now: asked of the OS, then let go for the server to take. */
export async function freePort() {
  const server = createServer();
  await new Promise((resolve, reject) => {
    server.on('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}
