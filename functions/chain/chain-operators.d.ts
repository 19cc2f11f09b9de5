// The operators a chain function runs, by name: a module generated per operator group at synth time
// (lib/infra/operator-catalog.ts) and aliased in as `@dag/chain-operators`.
declare module '@dag/chain-operators' {
  export const operators: Readonly<
    Record<string, (event: import('../../lib/runtime/operators.js').OperatorEvent) => unknown>
  >;
}
