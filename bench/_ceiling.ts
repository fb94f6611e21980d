/**
 * The ceiling for the join benchmark: the smallest Deno HTTP server that answers every request with a fixed 302,
 * the fastest thing the same stack can do. `deno run -A bench/_ceiling.ts PORT`; prints `listening` once ready.
 *
 * @module
 */
const port = Number(Deno.args[0] ?? "0");
const location = "http://127.0.0.1:1/bigbluebutton/api/join?meetingID=x&checksum=0";
Deno.serve({
  hostname: "127.0.0.1",
  port,
  onListen: () => console.log("listening"),
}, () => new Response(null, { status: 302, headers: { location } }));
