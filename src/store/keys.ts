/**
 * The key layout of bbblb's Deno KV store. Every key is built here and nowhere else.
 *
 * Meeting keys carry a tenant slot from the start ({@linkcode DEFAULT_TENANT} until tenants exist), so that
 * tenants need no migration.
 *
 * @module
 */

/** The tenant of every meeting until tenants exist. No tenant name can be empty. */
export const DEFAULT_TENANT = "";

/** Key builders, one per record kind. */
export const keys = {
  /** `ServerRecord` of one server. */
  server: (id: number): Deno.KvKey => ["server", id],
  /** Prefix of all servers. */
  servers: (): Deno.KvKey => ["server"],
  /** `ServerHealth` of one server (written by the request path and the poller, never by the admin). */
  health: (id: number): Deno.KvKey => ["server_health", id],
  /** Prefix of all health records. */
  healths: (): Deno.KvKey => ["server_health"],
  /** `ServerStats` of one server, written by the poller. */
  serverStats: (id: number): Deno.KvKey => ["server_stats", id],
  /** Prefix of all server stats. */
  serverStatsAll: (): Deno.KvKey => ["server_stats"],
  /**
   * Sum of the declared load of the meetings on a server, in milli-units, as a `Deno.KvU64` (an integer, so sums
   * are exact; changed with `sum`, see `store/load.ts`).
   */
  load: (id: number): Deno.KvKey => ["load", id],
  /** Prefix of all load sums. */
  loads: (): Deno.KvKey => ["load"],
  /** `MeetingRecord` of the running (or being created) instance of a meetingID. */
  meeting: (tenant: string, meetingID: string): Deno.KvKey => ["meeting", tenant, meetingID],
  /** Prefix of all meetings of a tenant. */
  meetings: (tenant: string): Deno.KvKey => ["meeting", tenant],
  /** Prefix of all meetings of all tenants. */
  allMeetings: (): Deno.KvKey => ["meeting"],
  /** `MeetingLive` of a meeting: live counts and missed poll rounds, written by the poller only. */
  meetingLive: (tenant: string, meetingID: string): Deno.KvKey => ["meeting_live", tenant, meetingID],
  /** Prefix of all live records. */
  allMeetingLive: (): Deno.KvKey => ["meeting_live"],
  /** The poller lease `{ owner, until }`: one instance polls at a time. */
  pollerLease: (): Deno.KvKey => ["lease", "poller"],
  /** Index: the meetings on a server; the value is the meeting's historyId. */
  meetingByServer: (serverId: number, tenant: string, meetingID: string): Deno.KvKey => [
    "meeting_by_server",
    serverId,
    tenant,
    meetingID,
  ],
  /** Prefix of the index entries of one server. */
  meetingsByServer: (serverId: number): Deno.KvKey => ["meeting_by_server", serverId],
  /** `HistoryRecord` of one meeting instance; kept after the meeting ends. */
  history: (historyId: string): Deno.KvKey => ["history", historyId],
  /** Chunk `i` of the create parameters of one meeting instance (UTF-8 JSON, at most 60 KiB a chunk). */
  createParams: (historyId: string, i: number): Deno.KvKey => ["create_params", historyId, i],
  /** Prefix of the create parameter chunks of one meeting instance. */
  createParamsOf: (historyId: string): Deno.KvKey => ["create_params", historyId],
  /** The meeting holding a voiceBridge (dial-in PIN), unique across the cluster: `{ tenant, meetingID }`. */
  voiceBridge: (voiceBridge: string): Deno.KvKey => ["voice_bridge", voiceBridge],
  /** Prefix of all voiceBridge reservations. */
  voiceBridges: (): Deno.KvKey => ["voice_bridge"],
  /**
   * The server that holds a recording: set for each meeting instance's internalMeetingID (a meeting's recordID)
   * and for recordIDs found by asking the servers. Never deleted: recordings outlive meetings.
   */
  recordingServer: (recordID: string): Deno.KvKey => ["recording_server", recordID],
  /**
   * `SeenRecord`: a meetingID seen running on (or dropped from) a server that its record does not name; see
   * `store/meetings.ts`.
   */
  seen: (
    tenant: string,
    meetingID: string,
    serverId: number,
  ): Deno.KvKey => ["seen", tenant, meetingID, serverId],
  /** Prefix of the marks of one meetingID. */
  seenOf: (tenant: string, meetingID: string): Deno.KvKey => ["seen", tenant, meetingID],
  /** Prefix of all marks. */
  allSeen: (): Deno.KvKey => ["seen"],
  /** `HookRecord` of a webhook created through bbblb. */
  hook: (hookID: string): Deno.KvKey => ["hook", hookID],
  /** Prefix of all hooks. */
  hooks: (): Deno.KvKey => ["hook"],
  /** `TenantRecord` of one tenant (its secrets, host, rules, limits). */
  tenant: (name: string): Deno.KvKey => ["tenant", name],
  /** Prefix of all tenants. */
  tenants: (): Deno.KvKey => ["tenant"],
  /** Participants in a tenant's meetings at the last poll round (a number, written by the poller). */
  tenantParticipants: (name: string): Deno.KvKey => ["tenant_participants", name],
  /** The default tenant's own `TenantRecord` (rules, limits, default tag; never secrets: those are BBBLB_SECRET). */
  tenantDefault: (): Deno.KvKey => ["tenant_default"],
  /**
   * A counter (`Deno.KvU64`) bumped by every change that placement must see at once: a server added, removed or
   * changed by the admin, its health turning, its live numbers changing. A claim checks its versionstamp, so a
   * placement made on an older picture of the servers fails and is made again (see `cluster/placement_turns.ts`).
   */
  serversVersion: (): Deno.KvKey => ["servers_version"],
  /**
   * `RecordingRecord` of a recording in central custody (`serve --recordings-dir`), under its tenant, so a
   * tenant's listing is one range scan and a meetingID filter (recordIDs start with `sha1(meetingID)`) a narrower
   * one. See `store/recordings.ts`.
   */
  recording: (tenant: string, recordID: string): Deno.KvKey => ["recording", tenant, recordID],
  /** Prefix of a tenant's recordings. */
  recordings: (tenant: string): Deno.KvKey => ["recording", tenant],
  /** Prefix of every recording of every tenant. */
  allRecordings: (): Deno.KvKey => ["recording"],
  /** The tenant a recordID is kept under (a string), so it can be found by its ID alone. */
  recordingTenant: (recordID: string): Deno.KvKey => ["recording_tenant", recordID],
  /** Count and bytes of the recordings in custody, `{ count, bytes }` (plain numbers, changed with checks). */
  recordingStats: (): Deno.KvKey => ["recording_stats"],
  /** `UploadRecord` of an archive a BBB server uploaded, until it is imported (kept a while after). */
  recordingUpload: (uploadId: string): Deno.KvKey => ["recording_upload", uploadId],
  /** Prefix of the upload records. */
  recordingUploads: (): Deno.KvKey => ["recording_upload"],
  /** A short lease `{ owner, until }` held while one process swaps the files of a recordID into place. */
  recordingLock: (recordID: string): Deno.KvKey => ["recording_lock", recordID],
  /**
   * A removed server's URL and secret, `{ id, apiUrl, secret, addedAt, removedAt }`, kept so that uploads it
   * signed are accepted for `--recordings-upload-grace-days` after its removal.
   */
  removedServer: (id: number, addedAt: number): Deno.KvKey => ["removed_server", id, addedAt],
  /** Prefix of the removed servers. */
  removedServers: (): Deno.KvKey => ["removed_server"],
  /**
   * That a minute chore ran in one minute (`name`: `retention`; `minute`: ms since the epoch / 60 000), so that
   * of several instances exactly one runs it; expires after a day.
   */
  choreRun: (name: string, minute: number): Deno.KvKey => ["chore_run", name, minute],
  /** A setting bbblb keeps for itself (the generated API secret, the schema version). */
  setting: (name: string): Deno.KvKey => ["setting", name],
};
