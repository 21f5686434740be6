import type { Engine } from '../engines.mjs';

/** What the end-to-end tests use of a DevTools Protocol session. */
export interface CdpSession {
  send(method: string, params?: Record<string, unknown>): Promise<any>;
  on(event: string, listener: (params: any) => void): unknown;
}

/** A page of one engine, driven from Node. */
export interface DrivenPage {
  /**
   * Runs `fn` (its source, so it may use only its argument and the page's globals) in the page. Argument and result
   * travel as JSON: keep to JSON values (WebDriver, for WebKit, turns `undefined` into `null`).
   */
  evaluate<R, A = undefined>(fn: (arg: A) => R | Promise<R>, arg?: A): Promise<R>;
  /** Saves a PNG of the page at `path`: the whole page in Chromium and Firefox, the window's view in WebKit. */
  screenshot(path: string): Promise<void>;
  close(): Promise<void>;
  /** Chromium only: a Chrome DevTools Protocol session in the page's target (one per page). */
  cdp?(): Promise<CdpSession>;
}

/** A running browser of one engine; its pages share one profile, as tabs do. */
export interface DrivenBrowser {
  newPage(url: string): Promise<DrivenPage>;
  /**
   * Takes the whole browser offline or online, as when the OS reports the network gone or back: pages and
   * workers, service workers included, get `offline` / `online` events. Only where the engine's driver can. Not
   * airtight (Chromium: a page being closed, the browser's update check of a worker's script; Firefox: requests to
   * 127.0.0.1, or over a connection kept alive): a test that must see nothing reach its server takes it down too.
   */
  setOffline?(offline: boolean): Promise<void>;
  /**
   * Runs `fn` (its source) in the running service worker whose script is `scriptUrl`, even when no page is open.
   * Only where the engine's driver can (Chromium).
   */
  evaluateInServiceWorker?<R>(scriptUrl: string, fn: () => R | Promise<R>): Promise<R>;
  close(): Promise<void>;
}

export interface LaunchOptions {
  /** Chromium only: flags added to the usual ones. */
  readonly chromiumArgs?: readonly string[];
  /** Firefox only: preferences set besides the usual ones. */
  readonly firefoxPrefs?: Readonly<Record<string, unknown>>;
}

export function launchBrowser(engine: Engine, options?: LaunchOptions): Promise<DrivenBrowser>;
