/**
 * A recording stand-in for the Dagger engine's GraphQL API, for contract tests of the real SDK.
 *
 * Listens on 127.0.0.1 (POST /query, basic auth with the session token as username), records every query and
 * answers it with one key per level: `id` and object-returning leaves get a fresh fake ID per query, `exitCode` 0,
 * `stdout`/`stderr` "" (override with `answer`). `normalised()` prints each query canonically with fake IDs
 * replaced by `<id:field>`, the field that produced the ID (e.g. `<id:setSecret>`), so tests compare sets of
 * queries independent of request order and ID numbering.
 *
 * What a module's entrypoint asks for is answered too: `node(id: X) { ... on T { id } }` (how the SDK turns an
 * ID it was handed back into an object) gives X back, and an `answer` that returns an array for a field with a
 * selection (`inputArgs { id }`) makes it a list, one element per entry (each entry's keys answer its leaves).
 *
 * Usage:
 *   const rec = await startRecorder();
 *   Object.assign(process.env, rec.env);   // DAGGER_SESSION_PORT, DAGGER_SESSION_TOKEN
 *   ... run pipeline code through @dagger.io/dagger ...
 *   rec.normalised(); await rec.close();
 */
import { randomBytes } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { type FieldNode, Kind, parse, print, type SelectionSetNode, visit } from "graphql";

/** One query the SDK sent. */
export interface RecordedQuery {
  query: string;
  variables?: Record<string, unknown>;
  /** The request's headers, e.g. `traceparent` when the SDK sends the query inside a span. */
  headers?: IncomingHttpHeaders;
}

/**
 * Answers a leaf field; return undefined for the default. `chain` is the calls down to it, each printed as
 * `name(arg: value, ...)`, e.g. answer `exitCode` 1 when `chain.at(-1)` is a `withExec` of "test:unit".
 * A promise delays the answer; `HOLD` never answers (the request stays open until the client cuts it).
 * Asked for a field with a selection too: an array answers it as a list (see above); anything else is ignored.
 */
export type Answer = (
  field: string,
  chain: string[],
  args: Record<string, unknown>,
) => unknown | Promise<unknown>;

/** An answer that never comes: the engine is still working when the client gives up. */
export const HOLD = Symbol("hold");

/** A running recorder. */
export interface Recorder {
  port: number;
  token: string;
  /** Set these in process.env before the SDK connects. */
  env: { DAGGER_SESSION_PORT: string; DAGGER_SESSION_TOKEN: string };
  queries: RecordedQuery[];
  /** Requests refused for a bad token or path (should stay 0). */
  refused: number;
  /** Requests being held (answered with `HOLD`), and those whose connection the client closed meanwhile. */
  held: number;
  cut: number;
  /** Each recorded query, canonical, fake IDs replaced by `<id:field>`. */
  normalised(): string[];
  /** Each recorded query as its chain of calls, e.g. ['container', 'from(address: "node:22")', ...]. */
  chains(): string[][];
  close(): Promise<void>;
}

const FAKE_ID = /fake-id-\d+/g;

/** The field name of a printed call. */
const fieldName = (call: string) => call.replace(/\(.*$/s, "");

/** Reads a request body. */
function body(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = "";
    req.on("data", (c: Buffer) => {
      data += c.toString();
    });
    req.on("end", () => resolve(data));
    req.on("error", reject);
  });
}

/** A field's literal arguments as plain values (the SDK inlines them; no variables). */
function argsOf(field: FieldNode): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const a of field.arguments ?? [])
    out[a.name.value] = a.value.kind === Kind.STRING ? a.value.value : print(a.value);
  return out;
}

/** The chain of calls in a normalised query: one field per level, as the SDK builds them. */
export function chainOf(normalisedQuery: string): string[] {
  const out: string[] = [];
  let set: SelectionSetNode | undefined;
  visit(parse(normalisedQuery), {
    OperationDefinition(op) {
      set = op.selectionSet;
    },
  });
  while (set) {
    const sel = set.selections[0];
    if (!sel) break;
    if (sel.kind === Kind.INLINE_FRAGMENT) {
      out.push(`... on ${sel.typeCondition?.name.value}`);
      set = sel.selectionSet;
      continue;
    }
    const field = sel as FieldNode;
    const args = (field.arguments ?? []).map((a) => `${a.name.value}: ${print(a.value)}`);
    out.push(args.length ? `${field.name.value}(${args.join(", ")})` : field.name.value);
    set = field.selectionSet;
  }
  return out;
}

/** Starts a recorder on a free 127.0.0.1 port. */
export async function startRecorder(answer: Answer = () => undefined): Promise<Recorder> {
  const token = randomBytes(12).toString("hex");
  const origin = new Map<string, string>();
  let next = 0;
  const fakeId = (field: string) => {
    next += 1;
    const id = `fake-id-${next}`;
    origin.set(id, field);
    return id;
  };

  /** One key per level, down each selection; `given` answers leaves of one element of a list. */
  const resolve = async (
    set: SelectionSetNode,
    path: string[],
    given: Record<string, unknown> = {},
  ): Promise<Record<string, unknown>> => {
    const out: Record<string, unknown> = {};
    for (const sel of set.selections) {
      // `node(id:) { ... on Directory { id } }`: the fragment's fields belong to the same object.
      if (sel.kind === Kind.INLINE_FRAGMENT) {
        Object.assign(out, await resolve(sel.selectionSet, path, given));
        continue;
      }
      if (sel.kind !== Kind.FIELD) continue;
      const name = sel.name.value;
      const key = sel.alias?.value ?? name;
      const printed = (sel.arguments ?? []).map((a) => `${a.name.value}: ${print(a.value)}`);
      const here = [...path, printed.length ? `${name}(${printed.join(", ")})` : name];
      if (sel.selectionSet) {
        const list = await answer(name, path, argsOf(sel));
        const set = sel.selectionSet;
        out[key] = Array.isArray(list)
          ? await Promise.all(list.map((item) => resolve(set, here, item)))
          : await resolve(set, here);
        continue;
      }
      const args = argsOf(sel);
      const custom = name in given ? given[name] : await answer(name, path, args);
      const loaded = /^node\(id: "(.*)"\)$/.exec(path.at(-1) ?? "")?.[1];
      if (custom === HOLD) throw HOLD;
      if (custom !== undefined) out[key] = custom;
      else if (name === "id" && loaded !== undefined) out[key] = loaded;
      else if (name === "id") out[key] = fakeId(fieldName(path.at(-1) ?? "query"));
      else if (name === "exitCode") out[key] = 0;
      else if (name === "stdout" || name === "stderr") out[key] = "";
      else if (name === "export") out[key] = args.path ?? "";
      else if (name === "publish") out[key] = `${args.address}@sha256:${"0".repeat(64)}`;
      else if (name === "exportImage") out[key] = null;
      else out[key] = fakeId(fieldName(path.at(-1) ?? name)); // sync, start, stop, ...: object IDs
    }
    return out;
  };

  let closing = false;
  const rec: Recorder = {
    port: 0,
    token,
    env: { DAGGER_SESSION_PORT: "", DAGGER_SESSION_TOKEN: token },
    queries: [],
    refused: 0,
    held: 0,
    cut: 0,
    normalised: () =>
      rec.queries.map((q) =>
        print(parse(q.query))
          .replace(/\s+/g, " ")
          .replace(FAKE_ID, (id) => `<id:${origin.get(id) ?? "?"}>`),
      ),
    chains: () => rec.normalised().map(chainOf),
    close: async () => {
      // A request the client cut may not have reached this side yet: give held ones a moment to close.
      for (let i = 0; i < 50 && rec.held > 0; i++) await new Promise((r) => setTimeout(r, 20));
      closing = true;
      await new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      });
    },
  };

  const server = createServer(async (req, res) => {
    const expected = `Basic ${Buffer.from(`${token}:`).toString("base64")}`;
    if (req.method !== "POST" || req.url !== "/query" || req.headers.authorization !== expected) {
      rec.refused += 1;
      res.writeHead(req.headers.authorization === expected ? 404 : 401).end();
      return;
    }
    try {
      const q = JSON.parse(await body(req)) as RecordedQuery;
      rec.queries.push({ ...q, headers: req.headers });
      const doc = parse(q.query);
      let op: SelectionSetNode | undefined;
      visit(doc, {
        OperationDefinition(o) {
          op = o.selectionSet;
        },
      });
      const data = op ? await resolve(op, []) : {};
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ data }));
    } catch (e) {
      if (e === HOLD) {
        rec.held += 1;
        res.on("close", () => {
          rec.held -= 1;
          if (!closing) rec.cut += 1;
        });
        return;
      }
      res
        .writeHead(400, { "content-type": "application/json" })
        .end(JSON.stringify({ errors: [{ message: String(e) }] }));
    }
  });
  // Like the engine's Go server, never drop an idle keep-alive connection first: Node's default 5 s races the
  // client reusing it, and under load (a pipeline test cell beside eight others) a query then fails with
  // ECONNRESET.
  server.keepAliveTimeout = 0;
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  rec.port = (server.address() as AddressInfo).port;
  rec.env.DAGGER_SESSION_PORT = String(rec.port);
  return rec;
}
