import type { Plugin } from 'rollup';

export function shortMessages(): Plugin;
