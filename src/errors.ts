/**
 * The error family of the project. Every error a user can cause is a WesError with the HTTP
 * status it maps to; api/error-handler.ts turns it into an ErrorResponse. Anything that is
 * not a WesError is a bug and becomes a 500 whose body says only "internal error".
 */
export abstract class WesError extends Error {
  abstract readonly status: 400 | 401 | 403 | 404 | 409 | 500;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

export class BadRequestError extends WesError {
  readonly status = 400;
}

/** A CWL document or input object that cannot run; `problems` lists each one with its location. */
export class InvalidWorkflowError extends BadRequestError {
  readonly problems: readonly string[];
  constructor(problems: readonly string[], options?: { cause?: unknown }) {
    super(`invalid workflow: ${problems.join('; ')}`, options);
    this.problems = problems;
  }
}

export class UnauthorizedError extends WesError {
  readonly status = 401;
}

export class ForbiddenError extends WesError {
  readonly status = 403;
}

/** Missing, or not the caller's: the message must not tell the two apart. */
export class NotFoundError extends WesError {
  readonly status = 404;
}

/** Engine outcomes, mapped to run states rather than HTTP statuses. */
export class CommandFailedError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CommandFailedError';
  }
}

export class CancelledError extends Error {
  constructor(message = 'run was canceled') {
    super(message);
    this.name = 'CancelledError';
  }
}

/** The message of anything thrown. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The code a system call's or a library's error carries (ENOENT, ESRCH, SQLITE_BUSY…), if it has one. */
export function errorCode(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error) {
    const code = (error as { code: unknown }).code;
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}
