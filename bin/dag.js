#!/usr/bin/env node
// The `dag` bin: runs the TypeScript CLI straight from source (no build step), through tsx's loader.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('./dag.ts');
process.exitCode = await main(process.argv.slice(2));
