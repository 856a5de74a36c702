/**
 * Worker of one bash driver: runs the promote, demote and pre_promote scripts
 * the host asks for, each in its own process group with a cleared environment,
 * and reports exit code, signal, timeout, duration and an output tail.
 *
 * Permissions (built by `src/daemon/_workers.ts`): `run` = the driver's
 * configured scripts plus the `kill(1)` helper; everything else denied. The
 * host names the program in each request, so the `run` list is the fence:
 * a request for any other program fails with `NotCapable`.
 */

import { serveRunRequests, type WorkerScope } from "./_run_process.ts";

serveRunRequests(self as unknown as WorkerScope);
