// Node file helpers of the CLI entry points.
import { open, rename, unlink } from 'node:fs/promises';

/** Replaces `path` whole or not at all: the data goes to a temporary file beside it, is flushed to
 * disk, and is renamed over `path` (atomic on POSIX filesystems). A process killed mid-write leaves
 * the previous file as it was (and at worst a stray `.tmp-<pid>` file). */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  const f = await open(tmp, 'w');
  try {
    await f.writeFile(data);
    await f.sync();
  } catch (e) {
    await f.close();
    await unlink(tmp).catch(() => {});
    throw e;
  }
  await f.close();
  await rename(tmp, path);
}
