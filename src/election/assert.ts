/**
 * Invariant checks for the election core. A failed assertion is a bug, never
 * an operating fault: it throws, nothing catches it, the process exits and
 * peers fail over. Never used for bad input from the wire (see message.ts).
 */

/** Thrown when an invariant of the election core does not hold. */
export class AssertionError extends Error {
  override name = "AssertionError";
}

/** Throws `AssertionError(message)` unless `condition` holds. */
export function assert(condition: boolean, message: string): asserts condition {
  if (!condition) throw new AssertionError(message);
}
