// Telling AWS SDK errors apart by name, at the boundary where they are translated into the engine's own.

export function errorName(error: unknown): string {
  return error instanceof Error ? error.name : '';
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Throttling after the SDK's own retries: the caller should answer "try again later" (503/retry). */
export function isThrottling(error: unknown): boolean {
  const name = errorName(error);
  return (
    name === 'ThrottlingException' ||
    name === 'Throttling' ||
    name === 'TooManyRequestsException' ||
    name === 'ProvisionedThroughputExceededException' ||
    name === 'RequestLimitExceeded'
  );
}
