// web-test-runner launchers for the three engines, each driving the browser Debian installs:
// Chromium and Firefox through puppeteer-core (CDP and WebDriver BiDi), WebKitGTK's MiniBrowser through WebDriver.
import { chromeLauncher, puppeteerCore } from '@web/test-runner-chrome';
import { WebdriverLauncher } from '@web/test-runner-webdriver';
import { chromiumArgs } from './engines.mjs';
import { startWebKitDriver } from './webkit-driver.mjs';

/**
 * MiniBrowser behind a WebKitWebDriver this launcher starts when web-test-runner starts it and stops with it.
 * web-test-runner's own webdriver launcher expects a server that is already running.
 */
class WebKitLauncher extends WebdriverLauncher {
  #engine;
  #driver;

  constructor(engine) {
    super({ capabilities: {} });
    this.#engine = engine;
  }

  async initialize(config, testFiles) {
    this.#driver = await startWebKitDriver(this.#engine);
    const { hostname, port, capabilities } = this.#driver;
    Object.assign(this.options, { hostname, port, capabilities, connectionRetryTimeout: 120_000 });
    await super.initialize(config, testFiles);
    this.name = this.#engine.label;
  }

  async stop() {
    await super.stop();
    await this.#driver?.stop();
  }
}

/** The launcher for one found engine (see engines.mjs). */
export function launcherFor(engine) {
  switch (engine.name) {
    case 'chromium':
      // Named after the engine (the launcher says "Chrome"), as the other two are.
      return Object.assign(chromeLauncher({ launchOptions: { executablePath: engine.executablePath, headless: true, args: chromiumArgs } }), { name: engine.label });
    case 'firefox':
      // Passing puppeteer-core as the "custom puppeteer" makes the launcher use `launchOptions.browser`, and name the
      // browser after it; puppeteer-core 24 drives Firefox over WebDriver BiDi.
      return chromeLauncher({
        puppeteer: puppeteerCore,
        launchOptions: { browser: 'firefox', executablePath: engine.executablePath, headless: true },
      });
    case 'webkit':
      return new WebKitLauncher(engine);
    default:
      throw new Error(`no launcher for ${engine.name}`);
  }
}
