export type EngineName = 'chromium' | 'firefox' | 'webkit';

/** An engine found on this machine. */
export interface Engine {
  readonly name: EngineName;
  readonly label: string;
  readonly executablePath: string;
  /** WebKit only: the WebKitWebDriver binary. */
  readonly driverPath?: string;
  /** WebKit only: MiniBrowser needs xvfb-run for a display. */
  readonly xvfb?: boolean;
  readonly missing?: undefined;
}

/** An engine asked for that is not on this machine, and why. */
export interface MissingEngine {
  readonly name: EngineName;
  readonly label: string;
  readonly missing: string;
}

export const browserRequired: boolean;
export const chromiumArgs: string[];
export const engineNames: EngineName[];
export function findEngines(): (Engine | MissingEngine)[];
export function findEngine(name: EngineName): Engine | MissingEngine;
export function skipNotice(suite: string, engine: MissingEngine): string;
