/**
 * The listener's accept pacing: a token bucket on new connections that
 * also hands the event loop over every few accepts, so that a connection
 * flood waits in the kernel's backlog instead of delaying the election's
 * timers and established peers. Pure apart from the clock passed in.
 */

export /** A token bucket on accepts that also yields every `perTurnMax` accepts. */
class AcceptPace {
  #tokens: number;
  #updatedMs = -Infinity;
  #inTurn = 0;
  readonly #perSecond: number;
  readonly #perTurnMax: number;

  constructor(perSecond: number, perTurnMax: number) {
    this.#perSecond = perSecond;
    this.#perTurnMax = perTurnMax;
    this.#tokens = perSecond;
  }

  /** -1 to accept now (a token is taken), else the milliseconds to wait. */
  waitMs(nowMs: number): number {
    if (this.#inTurn >= this.#perTurnMax) {
      this.#inTurn = 0;
      return 0;
    }
    const elapsedMs = Math.max(0, nowMs - this.#updatedMs);
    this.#updatedMs = nowMs;
    this.#tokens = Math.min(
      this.#perSecond,
      this.#tokens + (elapsedMs * this.#perSecond) / 1000,
    );
    if (this.#tokens < 1) {
      return Math.ceil(((1 - this.#tokens) * 1000) / this.#perSecond);
    }
    this.#tokens -= 1;
    this.#inTurn += 1;
    return -1;
  }
}
