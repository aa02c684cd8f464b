/** An expression or parameter reference that cannot be evaluated; fails the step using it. */
export class ExpressionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ExpressionError';
  }
}
