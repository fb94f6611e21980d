/**
 * What the API handlers get: the cluster context plus what only the HTTP side needs (the join-cookie key and the
 * default logout URL).
 *
 * @module
 */
import type { ClusterContext } from "../cluster/context.ts";
import type { Custody } from "../recordings/custody.ts";
import type { PlaybackSettings } from "../recordings/access.ts";
import type { TenantDirectory } from "./tenants.ts";

/** Central custody of recordings (`serve --recordings-dir`), as the API uses it. */
export interface CentralRecordings {
  /** Receives uploads and imports them; its `dir` is the recordings directory. */
  custody: Custody;
  /** Whether recordIDs not in the index are still looked up on the servers (`--recordings-routed-fallback`). */
  routedFallback: boolean;
  /** Serving the playback files and protecting them. @default player absent, nothing protected, 60 min links */
  playback?: PlaybackSettings;
}

/** Dependencies of the API handlers. */
export interface ApiContext extends ClusterContext {
  /** AES-256 key that seals join cookies (kept in the store). */
  cookieKey: Uint8Array;
  /** The tenants (cached for at most a second). */
  tenants: TenantDirectory;
  /** The accepted API secrets of the default tenant; the first one signs what bbblb relays to its front-ends. */
  secrets: () => readonly string[];
  /** Where `rejoin` sends users of an ended meeting whose creator gave no logoutURL (`BBBLB_LOGOUT_URL`). */
  logoutUrl: string | null;
  /** Central custody of recordings; absent: recordings stay on the servers (routed). */
  recordings?: CentralRecordings;
}
