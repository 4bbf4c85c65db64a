/**
 * Exit-path cleanup for what the peer harness creates (qemu processes,
 * namespaces with their bridges, taps and veths, temp dirs). Each resource
 * registers a synchronous undo; the normal path runs it and unregisters.
 * On process exit, SIGINT, SIGTERM and SIGHUP every undo still registered
 * runs, newest first, so a VM goes before the namespace it lives in. Only
 * SIGKILL escapes; then `ddplab peer down --all` finds leftovers by name
 * and by the pid file each run keeps.
 */
type Undo = () => void;

const undos = new Map<number, { what: string; undo: Undo }>();
let nextId = 1;
let installed = false;

function runAll(): void {
  const ids = [...undos.keys()].sort((a, b) => b - a);
  for (const id of ids) {
    const u = undos.get(id);
    undos.delete(id);
    try {
      u?.undo();
    } catch {
      // best effort: the next undo still runs
    }
  }
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', runAll);
  for (const [sig, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
    ['SIGHUP', 129],
  ] as const) {
    process.on(sig, () => {
      runAll();
      // Another listener (withTopology's) may also be cleaning up; both are
      // synchronous, so exiting here loses nothing of theirs.
      process.exit(code);
    });
  }
}

/** Registers an undo; returns the function that runs it now (once) and unregisters it. */
export function onCleanup(what: string, undo: Undo): () => void {
  install();
  const id = nextId++;
  undos.set(id, { what, undo });
  return () => {
    const u = undos.get(id);
    if (u === undefined) return;
    undos.delete(id);
    u.undo();
  };
}

/** What is still registered (for status and tests). */
export function pendingCleanups(): string[] {
  return [...undos.values()].map((u) => u.what);
}
