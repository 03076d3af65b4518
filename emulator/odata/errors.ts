/**
 * The one failure of the filter compiler. The emulator answers it with the service's 400, so the message
 * is written for the caller who sent the filter: what is wrong, and the 0-based character offset where.
 */
export class FilterSyntaxError extends Error {
  /** 0-based offset into the filter text of the token or expression at fault. */
  readonly position: number;

  constructor(detail: string, position: number) {
    super(`Invalid filter: ${detail} (at position ${position}).`);
    this.name = 'FilterSyntaxError';
    this.position = position;
  }
}
