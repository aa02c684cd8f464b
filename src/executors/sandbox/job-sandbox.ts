/**
 * Which confinement jobs without a container get, decided once at start-up from
 * WES_JOB_SANDBOX, never silently: 'bwrap' requires bubblewrap (start fails naming the
 * package), 'none' runs unconfined jobs because the operator said so, and unset uses
 * bubblewrap when it works here and otherwise allows unconfined jobs only while the server has
 * a single user (adding a second user is refused, naming the package to install).
 */
import { BWRAP_PACKAGE, BwrapWrapper, SandboxUnavailableError, bwrapVersion, type BwrapWrapperOptions } from './bwrap-wrapper.js';

/** As shown in service-info (`tags.job_sandbox`) and the start-up log. */
export type JobSandboxMode = 'bwrap' | 'none' | 'none-single-user';

export interface JobSandbox {
  readonly mode: JobSandboxMode;
  /** Present in 'bwrap' mode. */
  readonly wrapper?: BwrapWrapper;
  /** What the operator is told at start. */
  readonly message: string;
  /** Set when new users must be refused, with the reason to show. */
  readonly refuseNewUsers?: string;
}

export const SINGLE_USER_REFUSAL =
  `jobs would run unconfined, so this server allows a single user: install the "${BWRAP_PACKAGE}" package ` +
  `(apt-get install ${BWRAP_PACKAGE}) to sandbox jobs, or set WES_JOB_SANDBOX=none to accept unconfined jobs of several users`;

export async function selectJobSandbox(setting: 'bwrap' | 'none' | undefined, options: BwrapWrapperOptions): Promise<JobSandbox> {
  if (setting === 'none') {
    return {
      mode: 'none',
      message:
        'WARNING: WES_JOB_SANDBOX=none: jobs run unconfined as the server\'s user and can read every run, the database and the keys (the operator accepted this risk)',
    };
  }
  try {
    const wrapper = await BwrapWrapper.create(options);
    return { mode: 'bwrap', wrapper, message: `jobs run in a bubblewrap sandbox (${wrapper.description})` };
  } catch (err) {
    if (setting === 'bwrap' || !(err instanceof SandboxUnavailableError)) throw err;
    return {
      mode: 'none-single-user',
      message:
        `WARNING: JOBS ARE NOT SANDBOXED: ${err.message}.\n` +
        `WARNING: jobs run unconfined as the server's user, so this server accepts a single user; "wes user add" is refused ` +
        `until "${BWRAP_PACKAGE}" is installed or WES_JOB_SANDBOX=none is set.`,
      refuseNewUsers: SINGLE_USER_REFUSAL,
    };
  }
}

/**
 * The refusal `wes user add` must give, decided without starting a sandbox: undefined when
 * new users are fine (bubblewrap installed, or WES_JOB_SANDBOX set either way).
 */
export async function newUserRefusal(setting: 'bwrap' | 'none' | undefined): Promise<string | undefined> {
  if (setting !== undefined) return undefined;
  return (await bwrapVersion()) === undefined ? SINGLE_USER_REFUSAL : undefined;
}
