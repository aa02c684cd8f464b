/** `wes serve` as a real child process on a test database, for crash and restart tests. */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { TestDatabase } from './dialects.js';

const WES = path.resolve('bin/wes.js');

export interface Server {
  readonly process: ChildProcess;
  readonly url: string;
  readonly output: string[];
}

/**
 * Starts `wes serve --no-auth` on a free port; resolves once it listens. `env` adds variables;
 * `entry` is the program to run instead of bin/wes.js (the compiled dist/main.js).
 */
export async function startServer(database: TestDatabase, env: NodeJS.ProcessEnv = {}, entry: string = WES): Promise<Server> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, WES_DATA_DIR: database.dataDir, WES_MAX_JOBS: '2', ...env };
  if (database.databaseUrl !== undefined) childEnv.DATABASE_URL = database.databaseUrl;
  else delete childEnv.DATABASE_URL;
  const child = spawn(process.execPath, [entry, 'serve', '--no-auth', '--port', '0'], { env: childEnv, stdio: ['ignore', 'pipe', 'inherit'] });
  const output: string[] = [];
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => {
      output.push(chunk);
      const match = /wes-server listening on (http:\/\/[^/\s]+)/.exec(output.join(''));
      if (match !== null) resolve(match[1]);
    });
    child.once('exit', (code) => reject(new Error(`wes serve exited with ${code}: ${output.join('')}`)));
  });
  return { process: child, url, output };
}
