/**
 * Where a module's sibling is, in the form the caller itself runs in: `.ts` from the sources
 * (under tsx), `.js` once compiled to dist/. Worker threads and child processes load modules
 * by URL, so the extension cannot be left to the import resolver.
 */
export function siblingModule(from: string, name: string): string {
  const extension = new URL(from).pathname.endsWith('.ts') ? '.ts' : '.js';
  return new URL(`${name}${extension}`, from).href;
}
