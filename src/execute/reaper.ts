/**
 * Reaping of processes that a script left behind. Once the agent is a child subreaper (Linux
 * prctl PR_SET_CHILD_SUBREAPER), processes orphaned by a script's exit are re-parented to the
 * agent instead of to PID 1. After each run the agent reaps those of the run's process group with
 * waitpid(-pgid), so they leave no zombie, also when the agent itself runs as PID 1 in a container.
 *
 * NOTE: a process that moved itself out of the run's process group (setsid, setpgid) is re-parented
 * to the agent too but is never reaped, because reaping every child would steal exit statuses from
 * Bun's own child handling.
 */
import { dlopen, FFIType } from "bun:ffi";

const PR_SET_CHILD_SUBREAPER = 36;
const WNOHANG = 1;
const LIBC_NAMES = ["libc.so.6", "libc.musl-x86_64.so.1", "libc.musl-aarch64.so.1", "libc.so"];

interface Libc {
  prctl(option: number, arg2: bigint, arg3: bigint, arg4: bigint, arg5: bigint): number;
  waitpid(pid: number, status: null, options: number): number;
}

let libc: Libc | null | undefined;

function loadLibc(): Libc | null {
  if (libc !== undefined) return libc;
  libc = null;
  if (process.platform !== "linux") return libc;
  for (const name of LIBC_NAMES) {
    try {
      const library = dlopen(name, {
        prctl: { args: [FFIType.i32, FFIType.u64, FFIType.u64, FFIType.u64, FFIType.u64], returns: FFIType.i32 },
        waitpid: { args: [FFIType.i32, FFIType.ptr, FFIType.i32], returns: FFIType.i32 },
      });
      libc = library.symbols as unknown as Libc;
      break;
    } catch {
      // Try the next name: glibc and musl name their C library differently.
    }
  }
  return libc;
}

let subreaper = false;

/** Makes this process the child subreaper of its descendants; returns false where that is not possible. */
export function becomeSubreaper(): boolean {
  if (subreaper) return true;
  const c = loadLibc();
  subreaper = c !== null && c.prctl(PR_SET_CHILD_SUBREAPER, 1n, 0n, 0n, 0n) === 0;
  return subreaper;
}

/** Reaps every ended process of process group `pgid` whose parent is this process; returns how many. */
export function reapProcessGroup(pgid: number): number {
  if (!subreaper) return 0;
  const c = loadLibc();
  if (c === null) return 0;
  let reaped = 0;
  while (c.waitpid(-pgid, null, WNOHANG) > 0) reaped++;
  return reaped;
}
