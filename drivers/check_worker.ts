/**
 * Worker of one health check: runs the check command the host asks for, in
 * its own process group with a cleared environment (PATH only), killed at the
 * timeout, and reports the outcome. Rise/fall counting lives in the host
 * (`src/daemon/check_host.ts`), not here.
 *
 * Permissions (built by `src/daemon/_workers.ts`): `run` = the check command
 * plus the `kill(1)` helper; everything else denied.
 */

import { serveRunRequests, type WorkerScope } from "./_run_process.ts";

serveRunRequests(self as unknown as WorkerScope);
