// Command-line parsing shared by the CLIs (train, table, demo, bench): node:util's parseArgs, with
// its errors (an unknown option, a value that starts with a dash such as `--lr -1`) printed as one
// line and exit code 2, like every other bad option, instead of a stack trace.
import { parseArgs, type ParseArgsConfig } from 'node:util';

export function parseCli<T extends ParseArgsConfig>(config: T): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (e) {
    console.error(`${(e as Error).message}${/ambiguous/.test((e as Error).message) ? '' : ' (--help lists the options)'}`);
    process.exit(2);
  }
}
