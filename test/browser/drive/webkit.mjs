// WebKitGTK's MiniBrowser through WebKitWebDriver, with the plain WebDriver protocol client (no webdriverio layer,
// which switches windows on its own after a window closes, racing the commands that follow).
import { writeFile } from 'node:fs/promises';
import { startWebKitDriver } from '../webkit-driver.mjs';

// The client's loggers take their level from WDIO_LOG_LEVEL when they load ('info' by default, a line per session).
process.env.WDIO_LOG_LEVEL ??= 'error';
const { default: WebDriver } = await import('webdriver');

const POLL_MS = 20;

/** @param {import('../engines.mjs').Engine} engine */
export async function launchWebKit(engine) {
  const driver = await startWebKitDriver(engine);
  let session;
  try {
    session = await WebDriver.newSession({ hostname: driver.hostname, port: driver.port, capabilities: driver.capabilities, logLevel: 'error' });
  } catch (error) {
    await driver.stop();
    throw error;
  }

  // A WebDriver session runs scripts in its current window only, so every command aimed at a page first switches
  // to it; this chain keeps one page's switch-and-run from interleaving with another's.
  let turn = Promise.resolve();
  const serially = (command) => {
    const run = turn.then(command);
    turn = run.catch(() => undefined);
    return run;
  };
  const inWindow = (handle, command) =>
    serially(async () => {
      await session.switchToWindow(handle);
      return command();
    });

  // The window the session opened with stays blank and open: WebDriver makes new windows, and runs most commands,
  // only while the current window is open, so the session goes back to it whenever a page's window closes.
  const home = await session.getWindowHandle();
  let evaluations = 0;
  return {
    async newPage(url) {
      // Windows, not tabs: MiniBrowser throttles the timers of a tab in the background.
      const { handle } = await inWindow(home, () => session.createWindow('window'));
      await inWindow(handle, () => session.navigateTo(url));
      return {
        // A script that runs long (pages working at once on one queue) must not hold the session: start it, keep
        // its outcome on the page, and poll for it, so that other pages' scripts run in between.
        async evaluate(fn, arg) {
          const id = evaluations++;
          await inWindow(handle, () =>
            session.executeScript(
              `const [id, arg] = arguments;
              const results = (window.__e2eResults ??= {});
              results[id] = { done: false };
              Promise.resolve()
                .then(() => (${fn})(arg))
                .then((value) => (results[id] = { done: true, value }), (error) => (results[id] = { done: true, error: String(error?.stack ?? error) }));`,
              [id, arg ?? null],
            ),
          );
          // Under load MiniBrowser may now and then answer a poll from another window's context (the result is not
          // there): that poll is retried, and only a result missing for a whole second is an error.
          for (let missing = 0; ; ) {
            const result = await inWindow(handle, () =>
              session.executeScript('const r = (window.__e2eResults ?? {})[arguments[0]]; if (r?.done) delete window.__e2eResults[arguments[0]]; return r ?? null;', [id]),
            );
            if (!result) {
              if (++missing * POLL_MS > 1000) throw new Error(`in WebKit: the page lost the result of script ${id} (reloaded or closed?)`);
            } else if (result.done) {
              if ('error' in result) throw new Error(`in WebKit: ${result.error}`);
              return result.value;
            }
            await new Promise((resolve) => setTimeout(resolve, POLL_MS));
          }
        },
        // What the window shows (WebDriver captures the viewport, not the whole page).
        async screenshot(path) {
          const png = await inWindow(handle, () => session.takeScreenshot());
          await writeFile(path, Buffer.from(png, 'base64'));
        },
        close: () =>
          inWindow(handle, async () => {
            await session.closeWindow();
            await session.switchToWindow(home);
          }),
      };
    },
    async close() {
      await serially(() => session.deleteSession()).catch(() => undefined);
      await driver.stop();
    },
  };
}
