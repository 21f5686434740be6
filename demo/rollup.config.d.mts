import type { RollupOptions } from 'rollup';

export function demoConfig(options?: { outDir?: string }): (RollupOptions & { output: import('rollup').OutputOptions })[];
declare const config: RollupOptions[];
export default config;
