// The operator an operator bundle runs. Each operator's Lambda is bundled from handler.ts with esbuild
// aliasing this name to its module (`--alias:@dag/operator=./functions/operators/<operator>.ts`, set by
// lib/infra/operator-catalog.ts), so one wrapper serves the whole catalog.
declare module '@dag/operator' {
  export function handler(event: import('../../lib/runtime/operators.js').OperatorEvent): unknown;
}
