/**
 * The recording calls: recordings stay on the BBB servers that made them; bbblb finds, filters, merges and
 * routes. `getRecordings` asks every server; publish, update, delete and the text-track calls go to the server
 * that holds each recordID.
 *
 * @module
 */
import { BackendError } from "../bbb/client.ts";
import { BbbError } from "../bbb/errors.ts";
import { encodeQuery, get, type Params } from "../bbb/query.ts";
import { childText, listNodes, type OrderedNode, renderList, renderOrdered } from "../bbb/xml.ts";
import { callServer, fanoutTimeoutOf, serverUnavailable } from "../cluster/context.ts";
import { fanOut } from "../cluster/fan_out.ts";
import { mapLimit } from "../cluster/map_limit.ts";
import { recordingServers, rememberRecordingServers } from "../store/meetings.ts";
import { listServers, type ServerView } from "../store/servers.ts";
import type { ApiContext } from "./context.ts";
import type { ApiRequest } from "./request.ts";
import { xml } from "./responses.ts";
import { ownNodes } from "./tenants.ts";
import { backendMeetingID, TENANT_META_PARAM } from "../cluster/tenancy.ts";
import { DEFAULT_TENANT } from "../store/keys.ts";

/** BBB's answer when no recording matches (bbb-web's template). */
const NO_RECORDINGS = "<response><returncode>SUCCESS</returncode><recordings></recordings>" +
  "<messageKey>noRecordings</messageKey><message>There are no recordings for the meeting(s).</message></response>";

/** Servers asked at the same time by a fan-out. */
const FAN_OUT = 50;

/** The servers to ask: every server not known to be offline, whatever its state (recordings stay there). */
async function reachableServers(ctx: ApiContext): Promise<ServerView[]> {
  return (await listServers(ctx.kv)).filter((s) => s.online);
}

/** A page of a list, as BBB 2.6+ pages recordings. */
export interface Page {
  offset: number;
  limit: number;
}

/**
 * BBB 2.6+ paging (bbb-web `MeetingService.getRecordings2x`): only with a `limit` that is a whole number, clamped
 * to 1..100; `offset` below 0 or not a number is 0. `null` means no paging.
 */
export function pageOf(offset: string | undefined, limit: string | undefined): Page | null {
  if (limit === undefined || !/^[+-]?\d{1,9}$/.test(limit.trim())) return null;
  const o = /^[+-]?\d{1,9}$/.test((offset ?? "").trim()) ? Math.max(0, Number(offset)) : 0;
  return { offset: o, limit: Math.min(100, Math.max(1, Number(limit))) };
}

/**
 * `getRecordings`: the filters (`meetingID`, `recordID`, `state`, `meta_*`) go to every server, which applies them
 * as BBB does (so a meetingID finds the recordings of every instance the meeting ever had, on any server, even
 * from before bbblb); the answers are merged, each recording listed once, ordered by start time then recordID, and
 * `offset`/`limit` apply to the merged list. A failing server, or one that has not answered within the fan-out
 * timeout (`--fanout-timeout`), leaves its recordings out; only when every server fails is the answer
 * `serverUnavailable`. Nothing found: SUCCESS with `noRecordings`, as BBB.
 *
 * A tenant gets only its own recordings: its meetingIDs are scoped and `meta_bbblb-tenant=<tenant>` is added to
 * the filters, and every recording listed is checked to be the tenant's (see `ownNodes`); the default tenant gets
 * those of no tenant.
 */
export async function getRecordings(ctx: ApiContext, req: ApiRequest): Promise<Response> {
  const listed = await routedRecordingNodes(ctx, req);
  if (listed.servers > 0 && listed.answered === 0) {
    throw serverUnavailable("No BBB server answered getRecordings.");
  }
  return recordingsAnswer(listed.entries, req);
}

/** A `<recording>` listed for getRecordings, with what it is ordered by. */
export interface ListedRecording {
  recordID: string;
  startTime: number;
  node: OrderedNode;
}

/**
 * The recordings the servers list for a tenant's getRecordings (its filters as sent, without paging), each
 * once; `servers` were asked and `answered` answered.
 */
export async function routedRecordingNodes(
  ctx: ApiContext,
  req: ApiRequest,
): Promise<{ entries: ListedRecording[]; servers: number; answered: number }> {
  const names = (await ctx.tenants.snapshot()).names;
  const filters = tenantFilters(req.tenant, req.params.filter(([n]) => n !== "offset" && n !== "limit"));
  const servers = await reachableServers(ctx);
  const results = await fanOut(
    servers,
    { limit: FAN_OUT, timeoutMs: fanoutTimeoutOf(ctx) },
    (s) => callServer(ctx, s, "getRecordings", encodeQuery(filters)),
  );
  const byId = new Map<string, ListedRecording>();
  let answered = 0;
  for (const [i, r] of results.entries()) {
    if (r.status === "late") {
      ctx.log.warn("getRecordings: server late, its recordings left out", { server: servers[i].id });
      continue;
    }
    if (r.status === "rejected") {
      if (r.reason instanceof BackendError) continue;
      throw r.reason;
    }
    const answer = r.value;
    if (answer.response.returncode !== "SUCCESS") continue;
    answered++;
    for (const node of ownNodes(listNodes(answer.text, "recordings", "recording"), req.tenant, names)) {
      const id = childText(node, "recordID");
      if (id === undefined || byId.has(id)) continue;
      byId.set(id, { recordID: id, node, startTime: Number(childText(node, "startTime") ?? 0) || 0 });
    }
  }
  return { entries: [...byId.values()], servers: servers.length, answered };
}

/**
 * The getRecordings answer for these recordings: ordered by start time then recordID, paged with
 * `offset`/`limit` as BBB 2.6+ pages (with its `<pagination>`), `noRecordings` when there are none.
 */
export function recordingsAnswer(entries: ListedRecording[], req: ApiRequest): Promise<Response> {
  return pagedRecordingsAnswer(entries, req, (shown) => Promise.resolve(shown.map((e) => e.node)));
}

/**
 * {@linkcode recordingsAnswer} for entries whose `<recording>` is built only when shown: `render` gets the entries
 * of the page (in order) and returns their nodes, so a page of 100 out of 10,000 builds 100.
 */
export async function pagedRecordingsAnswer<T extends { recordID: string; startTime: number }>(
  entries: T[],
  req: ApiRequest,
  render: (shown: T[]) => Promise<OrderedNode[]>,
): Promise<Response> {
  const sorted = [...entries].sort((x, y) =>
    x.startTime - y.startTime || (x.recordID < y.recordID ? -1 : x.recordID > y.recordID ? 1 : 0)
  );
  const paging = pageOf(get(req.params, "offset"), get(req.params, "limit"));
  if (!paging) {
    return xml(sorted.length === 0 ? NO_RECORDINGS : renderList("recordings", await render(sorted)));
  }
  const shown = await render(sorted.slice(paging.offset, paging.offset + paging.limit));
  return xml(renderRecordingsPage(shown, paging, sorted.length));
}

/** getRecordings filters for a tenant: its meetingIDs scoped, and only recordings with its metadata. */
function tenantFilters(tenant: string, filters: Params): Params {
  if (tenant === DEFAULT_TENANT) return filters;
  const scoped: Params = filters
    .filter(([n]) => n.toLowerCase() !== TENANT_META_PARAM)
    .map(([n, v]) =>
      n === "meetingID"
        ? [n, v.split(",").map((id) => backendMeetingID(tenant, id.trim())).join(",")]
        : [n, v]
    );
  return [...scoped, [TENANT_META_PARAM, tenant]];
}

/**
 * The recordIDs among `byServer` that belong to `tenant`, asked of the servers holding them (one
 * `getRecordings?recordID=…&state=any` per server); other tenants' IDs are dropped as if unknown. Without any
 * tenant, every ID is the default tenant's and no server is asked.
 */
async function ownRecordIds(
  ctx: ApiContext,
  tenant: string,
  byServer: Map<number, string[]>,
): Promise<Map<number, string[]>> {
  const names = (await ctx.tenants.snapshot()).names;
  if (tenant === DEFAULT_TENANT && names.size === 0) return byServer;
  const servers = new Map((await listServers(ctx.kv)).map((s) => [s.id, s]));
  const out = new Map<number, string[]>();
  await mapLimit([...byServer], FAN_OUT, async ([id, recordIDs]) => {
    const server = servers.get(id);
    if (!server) return;
    try {
      const query = encodeQuery([["recordID", recordIDs.join(",")], ["state", "any"]]);
      const answer = await callServer(ctx, server, "getRecordings", query);
      const own = new Set(
        ownNodes(listNodes(answer.text, "recordings", "recording"), tenant, names).map((n) =>
          childText(n, "recordID")
        ),
      );
      const kept = recordIDs.filter((r) => own.has(r));
      if (kept.length > 0) out.set(id, kept);
    } catch (e) {
      if (!(e instanceof BackendError)) throw e;
    }
  });
  return out;
}

/** A paged getRecordings answer: bbb-web adds a `<pagination>` element after the recordings. */
function renderRecordingsPage(nodes: OrderedNode[], paging: Page, total: number): string {
  const text = (v: string | number | boolean) => [{ "#text": String(v) }];
  return renderOrdered([
    { returncode: text("SUCCESS") },
    { recordings: nodes },
    ...(nodes.length === 0
      ? [{ messageKey: text("noRecordings") }, {
        message: text("There are no recordings for the meeting(s)."),
      }]
      : []),
    {
      pagination: [
        {
          pageable: [
            { offset: text(paging.offset) },
            { limit: text(paging.limit) },
            { paged: text(true) },
            { unpaged: text(false) },
          ],
        },
        { totalElements: text(total) },
        { empty: text(nodes.length === 0) },
      ],
    },
  ]);
}

/** The comma list of `recordID`, trimmed, without empties. */
export function recordIdsOf(params: Params): string[] {
  const raw = get(params, "recordID");
  const ids = (raw ?? "").split(",").map((s) => s.trim()).filter((s) => s !== "");
  if (ids.length === 0) throw new BbbError("missingParamRecordID", "You must specify a recordID.");
  return [...new Set(ids)];
}

/**
 * Which server holds each recordID: known from the meeting instances bbblb placed, or remembered from an earlier
 * look-up; the rest are looked up by asking every server (`getRecordings?recordID=…&state=any`) and remembered.
 * IDs no server holds are left out.
 */
async function locate(ctx: ApiContext, ids: string[]): Promise<Map<number, string[]>> {
  const found = await recordingServers(ctx.kv, ids);
  const unknown = ids.filter((id) => !found.has(id));
  if (unknown.length > 0) {
    const query = encodeQuery([["recordID", unknown.join(",")], ["state", "any"]]);
    const servers = await reachableServers(ctx);
    const learned = new Map<string, number>();
    await mapLimit(servers, FAN_OUT, async (s) => {
      try {
        const answer = await callServer(ctx, s, "getRecordings", query);
        for (const node of listNodes(answer.text, "recordings", "recording")) {
          const id = childText(node, "recordID");
          if (id !== undefined && unknown.includes(id) && !learned.has(id)) learned.set(id, s.id);
        }
      } catch (e) {
        if (!(e instanceof BackendError)) throw e;
      }
    });
    await rememberRecordingServers(ctx.kv, learned);
    for (const [id, server] of learned) found.set(id, server);
  }
  const byServer = new Map<number, string[]>();
  for (const id of ids) {
    const server = found.get(id);
    if (server !== undefined) byServer.set(server, [...(byServer.get(server) ?? []), id]);
  }
  return byServer;
}

/**
 * `publishRecordings`, `updateRecordings`, `deleteRecordings`: each recordID goes to the server that holds it,
 * one call per server with its IDs and the other parameters as sent; the answer is BBB's (`published`,
 * `updated`, `deleted`). `notFound` when no ID is known anywhere; another tenant's IDs count as unknown.
 *
 * @throws {BbbError} `missingParamRecordID`, `missingParamPublish` (publish), `notFound`, `serverUnavailable`
 */
export function routedRecordingCall(call: "publishRecordings" | "updateRecordings" | "deleteRecordings") {
  return async (ctx: ApiContext, req: ApiRequest): Promise<Response> => {
    const ids = recordIdsOf(req.params);
    if (call === "publishRecordings" && (get(req.params, "publish") ?? "") === "") {
      throw new BbbError("missingParamPublish", "You must specify a publish value true or false.");
    }
    const byServer = await ownRecordIds(ctx, req.tenant, await locate(ctx, ids));
    if (byServer.size === 0) throw new BbbError("notFound", "We could not find recordings");
    const servers = new Map((await listServers(ctx.kv)).map((s) => [s.id, s]));
    // bbblb's own tenant tag never comes from a client: it decides whose a recording is.
    const rest = req.params.filter(([n]) => n !== "recordID" && n.toLowerCase() !== TENANT_META_PARAM);
    const answers = await mapLimit([...byServer], FAN_OUT, async ([id, recordIDs]) => {
      const server = servers.get(id);
      if (!server) return null;
      try {
        return await callServer(ctx, server, call, encodeQuery([["recordID", recordIDs.join(",")], ...rest]));
      } catch (e) {
        if (e instanceof BackendError) return null;
        throw e;
      }
    });
    const ok = answers.find((a) => a?.response.returncode === "SUCCESS");
    if (ok) return xml(ok.text);
    const failed = answers.find((a) => a !== null);
    if (failed) return xml(failed.text);
    throw serverUnavailable("The BBB servers holding these recordings cannot be reached.");
  };
}

/** A JSON answer, as BBB gives for the text-track calls. */
export function json(body: unknown): Response {
  return new Response(JSON.stringify(body), {
    status: 200,
    headers: { "content-type": "application/json;charset=utf-8", "cache-control": "no-cache" },
  });
}

/** BBB's JSON failure envelope (text-track calls). */
export function jsonFailed(messageKey: string, message: string): Response {
  return json({ response: { returncode: "FAILED", messageKey, message } });
}

/**
 * `getRecordingTextTracks` and `putRecordingTextTrack`: routed to the server that holds the recordID; the
 * server's JSON answer (and, for the upload, the multipart body) passes through intact.
 */
export function textTrackCall(call: "getRecordingTextTracks" | "putRecordingTextTrack") {
  return async (ctx: ApiContext, req: ApiRequest): Promise<Response> => {
    const recordID = get(req.params, "recordID")?.trim() ?? "";
    if (recordID === "") {
      return call === "putRecordingTextTrack" ? jsonFailed("paramError", "Missing param recordID.") : xml(
        "<response><returncode>FAILED</returncode><messageKey>missingParamRecordID</messageKey>" +
          "<message>You must specify a recordID.</message></response>",
      );
    }
    const located = await ownRecordIds(ctx, req.tenant, await locate(ctx, [recordID]));
    const [serverId] = [...located.keys()];
    const server = (await listServers(ctx.kv)).find((s) => s.id === serverId);
    if (!server) return jsonFailed("noRecordings", `No recording was found for ${recordID}`);
    try {
      const answer = await callServer(ctx, server, call, req.query, {
        expect: "json",
        body: req.body?.bytes,
        contentType: req.body?.contentType,
      });
      return new Response(answer.text, {
        status: 200,
        headers: { "content-type": answer.contentType || "application/json", "cache-control": "no-cache" },
      });
    } catch (e) {
      if (e instanceof BackendError) {
        return jsonFailed("serverUnavailable", "The recording's BBB server cannot be reached.");
      }
      throw e;
    }
  };
}
