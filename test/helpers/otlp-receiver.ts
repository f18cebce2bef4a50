/**
 * A stand-in for the OTLP/HTTP endpoint `dagger run` gives the program it runs (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT):
 * receives the spans the SDK's exporter posts to POST /v1/traces (protobuf, `ExportTraceServiceRequest`) and keeps
 * the fields the tests read.
 *
 * The Dagger SDK exports with the live processor when OTEL_EXPORTER_OTLP_TRACES_LIVE is set (as `dagger run` sets
 * it): a span is sent when it starts and again when it ends. `spans()` gives each span's last state.
 */
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { gunzipSync } from "node:zlib";

/** One span as exported. */
export interface ReceivedSpan {
  /** Hex, as in a `traceparent`. */
  traceId: string;
  spanId: string;
  /** "" for a root span. */
  parentSpanId: string;
  name: string;
  /** The instrumentation scope (the tracer's name). */
  scope: string;
  /** 0 unset, 1 ok, 2 error (OTLP `Status.StatusCode`). */
  statusCode: number;
  statusMessage: string;
  /** 0n while the span has not ended. */
  endTimeUnixNano: bigint;
}

/** A running receiver. */
export interface OtlpReceiver {
  /** The traces endpoint, for OTEL_EXPORTER_OTLP_TRACES_ENDPOINT. */
  endpoint: string;
  /** Each span's latest export, ended ones over unended ones. */
  spans(): ReceivedSpan[];
  close(): Promise<void>;
}

/** The fields of one protobuf message: field number → raw values (bytes for length-delimited, else numbers). */
type Fields = Map<number, (Uint8Array | bigint)[]>;

/** Decodes one level of a protobuf message (wire types 0, 1, 2 and 5; enough for OTLP). */
function fields(buf: Uint8Array): Fields {
  const out: Fields = new Map();
  let pos = 0;
  const varint = (): bigint => {
    let v = 0n;
    let shift = 0n;
    for (;;) {
      const b = buf[pos++];
      if (b === undefined) throw new Error("truncated protobuf varint");
      v |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return v;
      shift += 7n;
    }
  };
  const fixed = (bytes: number): bigint => {
    let v = 0n;
    for (let i = bytes - 1; i >= 0; i--) v = (v << 8n) | BigInt(buf[pos + i] ?? 0);
    pos += bytes;
    return v;
  };
  while (pos < buf.length) {
    const tag = varint();
    const field = Number(tag >> 3n);
    const wire = Number(tag & 7n);
    let value: Uint8Array | bigint;
    if (wire === 0) value = varint();
    else if (wire === 1) value = fixed(8);
    else if (wire === 5) value = fixed(4);
    else if (wire === 2) {
      const len = Number(varint());
      value = buf.subarray(pos, pos + len);
      pos += len;
    } else throw new Error(`protobuf wire type ${wire} at byte ${pos} is not handled`);
    out.set(field, [...(out.get(field) ?? []), value]);
  }
  return out;
}

const bytesOf = (f: Fields, n: number): Uint8Array[] =>
  (f.get(n) ?? []).filter((v): v is Uint8Array => v instanceof Uint8Array);
const hex = (f: Fields, n: number) => Buffer.from(bytesOf(f, n)[0] ?? []).toString("hex");
const text = (f: Fields, n: number) => Buffer.from(bytesOf(f, n)[0] ?? []).toString("utf8");
const num = (f: Fields, n: number): bigint => {
  const v = f.get(n)?.[0];
  return typeof v === "bigint" ? v : 0n;
};

/** The spans of an `ExportTraceServiceRequest` (resource_spans 1 → scope_spans 2 → spans 2). */
export function decodeTraces(body: Uint8Array): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  for (const rs of bytesOf(fields(body), 1))
    for (const ss of bytesOf(fields(rs), 2)) {
      const scopeSpans = fields(ss);
      const scope = text(fields(bytesOf(scopeSpans, 1)[0] ?? new Uint8Array()), 1);
      for (const raw of bytesOf(scopeSpans, 2)) {
        const s = fields(raw);
        const status = fields(bytesOf(s, 15)[0] ?? new Uint8Array());
        out.push({
          traceId: hex(s, 1),
          spanId: hex(s, 2),
          parentSpanId: hex(s, 4),
          name: text(s, 5),
          scope,
          statusCode: Number(num(status, 3)),
          statusMessage: text(status, 2),
          endTimeUnixNano: num(s, 8),
        });
      }
    }
  return out;
}

function body(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

/** Starts a receiver on a free 127.0.0.1 port. */
export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const latest = new Map<string, ReceivedSpan>();
  const server = createServer(async (req, res) => {
    if (req.method !== "POST" || req.url !== "/v1/traces") {
      res.writeHead(404).end();
      return;
    }
    try {
      let raw = await body(req);
      if (req.headers["content-encoding"] === "gzip") raw = gunzipSync(raw);
      for (const s of decodeTraces(raw)) {
        const seen = latest.get(s.spanId);
        if (!seen || s.endTimeUnixNano >= seen.endTimeUnixNano) latest.set(s.spanId, s);
      }
      // An empty ExportTraceServiceResponse: everything accepted.
      res.writeHead(200, { "content-type": "application/x-protobuf" }).end();
    } catch (e) {
      res.writeHead(400).end(String(e));
    }
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as AddressInfo).port;
  return {
    endpoint: `http://127.0.0.1:${port}/v1/traces`,
    spans: () => [...latest.values()],
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}
