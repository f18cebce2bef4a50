/**
 * The Dagger session of a run: one `connection()` for the whole run, and per-run clients whose queries are
 * cut off when their run is aborted, so the engine cancels the exec instead of finishing it unseen.
 */
import { Agent } from "node:http";
import { Client, Context, connection, dag, GraphQLClient } from "@dagger.io/dagger";
import { type Context as OtelContext, context as otelContext } from "@opentelemetry/api";
import type { EngineSettings } from "../../engine.js";
import { EngineUnavailable } from "../errors.js";

/**
 * SDK 0.21.9 downloads its CLI on every connect unless a session is present (`dagger run` sets
 * DAGGER_SESSION_PORT and DAGGER_SESSION_TOKEN) or `_EXPERIMENTAL_DAGGER_CLI_BIN` names a CLI. Point it at
 * the `dagger` CLI found; with neither, fail now rather than after a download that cannot work offline.
 */
export function ensureDaggerReachable(settings: EngineSettings["dagger"], cliBin?: string): void {
  if (settings.sessionPort) {
    if (!settings.sessionToken)
      throw new EngineUnavailable(
        "--engine dagger: DAGGER_SESSION_PORT is set but DAGGER_SESSION_TOKEN is not; run under `dagger run`, which sets both.",
      );
    return;
  }
  if (cliBin) {
    // The SDK reads its CLI from the environment; this is the one place the pipeline sets it.
    process.env._EXPERIMENTAL_DAGGER_CLI_BIN = cliBin;
    return;
  }
  throw new EngineUnavailable(
    "--engine dagger: no Dagger session (DAGGER_SESSION_PORT) and no `dagger` CLI on PATH, and the SDK " +
      "must not download one. Install the Dagger CLI (https://docs.dagger.io/install) and run " +
      "`dagger run npx tsx ci/main.ts ...`, or use --engine docker with a local Docker daemon.",
  );
}

/**
 * Opens the connection; `release()` ends it once the run is done. `trace` is the context the SDK runs the
 * connection in: under `dagger run` it holds the span named by TRACEPARENT, which the run's spans hang from.
 */
export async function openSession(): Promise<{ release: () => Promise<void>; trace: OtelContext }> {
  let release!: () => void;
  const released = new Promise<void>((r) => {
    release = r;
  });
  let session!: Promise<void>;
  let trace!: OtelContext;
  await new Promise<void>((ready, fail) => {
    session = connection(
      async () => {
        trace = otelContext.active();
        ready();
        await released;
      },
      { LogOutput: process.stderr },
    );
    session.catch(fail);
  });
  return {
    release: async () => {
      release();
      await session.catch(() => {});
    },
    trace,
  };
}

/** The session's own GraphQL client (URL, credentials, trace headers), as the SDK set it up. */
function sessionClient(): { url: string; requestConfig: Record<string, unknown> } {
  const ctx = (dag as unknown as { _ctx: Context })._ctx;
  return ctx.getGQLClient() as unknown as { url: string; requestConfig: Record<string, unknown> };
}

/**
 * A client for one run. Its queries share a connection pool of their own; aborting `signal` destroys those
 * sockets, which ends the in-flight requests, and the engine cancels what they were waiting for.
 */
export function clientFor(signal?: AbortSignal): Client {
  if (!signal) return dag;
  const base = sessionClient();
  const agent = new Agent({ keepAlive: true });
  const cut = () => agent.destroy();
  if (signal.aborted) cut();
  else signal.addEventListener("abort", cut, { once: true });
  // The SDK's fetch passes extra request options through to node-fetch, whose `agent` this is.
  const gql = new GraphQLClient(base.url, { ...base.requestConfig, agent } as never);
  return new Client(new Context([], { getGQLClient: () => gql } as never));
}
