/** A Node built-in, imported only when called: the specifier is a variable, so browser bundlers
 * (esbuild, Vite) leave it out instead of failing on `node:*` (tested: test/unit/bundle.test.ts). */
export function nodeImport<T>(name: string): Promise<T> {
  return import(/* @vite-ignore */ name) as Promise<T>;
}
