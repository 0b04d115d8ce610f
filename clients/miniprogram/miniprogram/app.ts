// The mini-program: signs the resident in at launch so that the first page's calls do not wait for it.

import { residentToken } from "./api/session";

App({
  onLaunch() {
    // A failed sign-in here is retried by the first call that needs it, which also tells the resident.
    residentToken().catch(() => undefined);
  },
});
