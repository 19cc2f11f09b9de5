// asl-validator 4 ships no type declarations; this is the part of its API the tests use.
declare module 'asl-validator' {
  interface AslValidatorOptions {
    readonly checkPaths?: boolean;
    readonly checkArn?: boolean;
  }
  interface AslValidatorError {
    readonly 'Error code': string;
    readonly Message: string;
  }
  interface AslValidatorResult {
    readonly isValid: boolean;
    readonly errors: readonly AslValidatorError[];
    errorsText(separator?: string): string;
  }
  /** Validates a definition. It mutates its argument: pass a clone. */
  function validator(definition: unknown, options?: AslValidatorOptions): AslValidatorResult;
  export = validator;
}
