/**
 * Node flags the kernel process runs with (the kernelspec's argv puts them
 * before the script). Without async-hooks checks, Node survives the
 * watchdog terminating JavaScript that runs inside a timer callback; with
 * them it aborts on the async-id stack the callback left behind
 * (kernel/watchdog-worker.ts).
 */
export const KERNEL_NODE_FLAGS = ["--no-force-async-hooks-checks"];
