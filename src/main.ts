/** The `wes` command: server, administration, seeding, and a client of any WES server. */
import { Command, InvalidArgumentError } from 'commander';
import { loadConfig } from './config.js';
import { serve } from './cli/serve.js';
import { addUser, createKey, disableUser, listKeys, revokeKey } from './cli/admin/users.js';
import { seedCommand } from './cli/admin/seed.js';
import { errorMessage } from './errors.js';
import { addClientCommands } from './cli/client/commands.js';

function count(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('must be a non-negative integer');
  return n;
}

const program = new Command('wes').description('GA4GH WES 1.1 server for CWL workflows').showHelpAfterError();

program
  .command('serve')
  .description('serve the WES API (SQLite under the data dir, or PostgreSQL when DATABASE_URL is set)')
  .option('--port <port>', 'port to listen on (WES_PORT, default 8080)', count)
  .option('--host <host>', 'address to listen on (WES_HOST, default 127.0.0.1)')
  .option('--data-dir <dir>', 'data directory (WES_DATA_DIR, default ./data)')
  .option('--no-auth', 'single-user local server: no API keys (WES_NO_AUTH=1)')
  .option('--max-jobs <n>', 'jobs running at once (WES_MAX_JOBS, default: CPU count)', count)
  .action(async (opts: { port?: number; host?: string; dataDir?: string; auth: boolean; maxJobs?: number }) => {
    const env = { ...process.env };
    if (opts.dataDir !== undefined) env.WES_DATA_DIR = opts.dataDir;
    if (opts.port !== undefined) env.WES_PORT = String(opts.port);
    if (opts.host !== undefined) env.WES_HOST = opts.host;
    if (!opts.auth) env.WES_NO_AUTH = '1';
    if (opts.maxJobs !== undefined) env.WES_MAX_JOBS = String(opts.maxJobs);
    await serve(loadConfig(env));
  });

const userCommand = program.command('user').description('manage users');
userCommand
  .command('add <name>')
  .description('create a user and print its first API key')
  .option('--admin', 'make the user an administrator', false)
  .action(async (name: string, opts: { admin: boolean }) => addUser(loadConfig(), name, opts.admin));
userCommand
  .command('disable <name>')
  .description('disable a user: none of its API keys works any more (its runs are kept)')
  .action(async (name: string) => disableUser(loadConfig(), name));

const keyCommand = program.command('key').description('manage API keys');
keyCommand
  .command('create <user>')
  .description('create an API key for a user and print it (shown once)')
  .action(async (user: string) => createKey(loadConfig(), user));
keyCommand
  .command('list <user>')
  .description("list a user's API keys: id, prefix, created, revoked (never the keys)")
  .action(async (user: string) => listKeys(loadConfig(), user));
keyCommand
  .command('revoke <key>')
  .description('revoke an API key, named by its id or prefix (as "wes key list" shows)')
  .action(async (key: string) => revokeKey(loadConfig(), key));

program
  .command('seed')
  .description('write a synthetic run into the store and print {"run_id","tasks","api_key"}')
  .option('--user <name>', 'owner of the run (created if missing)', 'seed')
  .option('--inputs <n>', 'input steps (no job)', count, 2)
  .option('--steps <n>', 'tool steps', count, 10)
  .option('--mapped <n>', 'how many tool steps are mapped over --elements', count, 3)
  .option('--elements <n>', 'jobs per mapped step', count, 5)
  .option('--running <n>', 'how many of the last jobs are still running', count, 0)
  .option('--no-logs', 'do not write log files')
  .action(async (opts: { user: string; inputs: number; steps: number; mapped: number; elements: number; running: number; logs: boolean }) =>
    seedCommand(loadConfig(), opts),
  );

addClientCommands(program);

program.parseAsync(process.argv).catch((error: unknown) => {
  process.stderr.write(`wes: ${errorMessage(error)}\n`);
  process.exit(1);
});
