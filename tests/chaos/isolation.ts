/**
 * Rule 4 of the chaos run: no tenant ever sees another tenant's meeting. Judged on every answer bbblb gives a
 * client, without timing: BBB derives a meeting's internalMeetingID from the meetingID it was created with
 * (`sha1(meetingID)-createTime`), so an internalMeetingID shows whose meeting an answer describes, and a join
 * redirect names the meetingID the server will join.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { backendIdOf } from "./checker.ts";

/** An answer of bbblb as a client received it. */
export interface Answer {
  status: number;
  /** The Location header of a redirect. */
  location: string | null;
  body: string;
}

/** The texts of every `<name>` element (no nested elements inside). */
export function tags(xml: string, name: string): string[] {
  return [...xml.matchAll(new RegExp(`<${name}>([^<]*)</${name}>`, "g"))].map((m) => unescapeXml(m[1]));
}

function unescapeXml(text: string): string {
  return text.replace(
    /&(lt|gt|quot|apos|amp);/g,
    (_, e) => ({ lt: "<", gt: ">", quot: '"', apos: "'", amp: "&" })[e as string]!,
  );
}

const sha1 = (text: string) => createHash("sha1").update(text).digest("hex");

/** Whether an internalMeetingID belongs to the meeting a server knows as `backendID`. */
function internalOf(internal: string, backendID: string): boolean {
  return internal.startsWith(`${sha1(backendID)}-`);
}

/**
 * What is wrong, for rule 4, with bbblb's answer to `call` by `tenant` about its `meetingID`, or null.
 *
 * @param tenants every tenant's name (not the default tenant)
 */
export function isolationProblem(
  call: string,
  tenant: string,
  meetingID: string,
  answer: Answer,
  tenants: readonly string[],
): string | null {
  const backendID = backendIdOf(`${tenant}/${meetingID}`);
  const success = /<returncode>SUCCESS<\/returncode>/.test(answer.body);
  switch (call) {
    case "create":
    case "getMeetingInfo":
    case "move": {
      if (!success) return null;
      const id = tags(answer.body, "meetingID")[0];
      if (id !== undefined && id !== meetingID) return `${call} answered meetingID ${id}`;
      const internal = tags(answer.body, "internalMeetingID")[0];
      if (internal && !internalOf(internal, backendID)) {
        return `${call} answered the internalMeetingID of another meeting than ${backendID}`;
      }
      return null;
    }
    case "join": {
      if (answer.status === 302 && answer.location) {
        const target = new URL(answer.location);
        if (target.pathname.endsWith("/api/join")) {
          const joined = target.searchParams.get("meetingID");
          if (joined !== backendID) return `join redirected to meetingID ${joined}, not ${backendID}`;
        }
        return null;
      }
      if (!success) return null;
      const internal = tags(answer.body, "meeting_id")[0];
      if (internal && !internalOf(internal, backendID)) return `join (redirect=false) joined another meeting`;
      return null;
    }
    case "getMeetings": {
      const ids = tags(answer.body, "meetingID");
      const internals = tags(answer.body, "internalMeetingID");
      for (const [i, id] of ids.entries()) {
        if (tenant === "" && tenants.some((t) => id.startsWith(`${t}~`))) {
          return `getMeetings of the default tenant lists tenant meeting ${id}`;
        }
        const own = backendIdOf(`${tenant}/${id}`);
        if (internals[i] && !internalOf(internals[i], own)) {
          return `getMeetings lists ${id} with the internalMeetingID of another tenant's meeting`;
        }
      }
      return null;
    }
    case "foreign":
      return success ? `the default tenant created ${meetingID}, a meetingID of another tenant's form` : null;
  }
  return null;
}
