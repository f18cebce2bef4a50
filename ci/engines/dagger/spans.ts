/**
 * Custom spans, as in Dagger's cookbook (`custom-spans`): the SDK's tracer (`getTracer().startActiveSpan`), so
 * the queries made inside a span carry it as their `traceparent` and the engine nests their calls beneath it.
 *
 * The SDK sets OpenTelemetry up itself when `connection()` starts and any OTEL_* variable is set (`dagger run`
 * sets the OTLP endpoint and TRACEPARENT); without them its tracer records nothing and this costs nothing.
 */
import { getTracer } from "@dagger.io/dagger/telemetry";
import { type Context, context, SpanStatusCode, trace } from "@opentelemetry/api";

/** The instrumentation scope of the pipeline's spans. */
export const TRACER_NAME = "codex-father/ci";

/**
 * Runs `fn` in a span named `name`: a child of the active span, else of `root` (the connection's context,
 * which `connection()` keeps to its own callback). Marked failed when `fn` throws (the SDK's tracer records
 * the exception) or when `failure` returns a message for its value.
 */
export function inSpan<T>(
  root: Context,
  name: string,
  fn: () => Promise<T>,
  failure?: (value: T) => string | undefined,
): Promise<T> {
  const active = context.active();
  const parent = trace.getSpan(active) ? active : root;
  return context.with(parent, () =>
    getTracer(TRACER_NAME).startActiveSpan(name, async (span) => {
      const value = await fn();
      const message = failure?.(value);
      if (message !== undefined) span.setStatus({ code: SpanStatusCode.ERROR, message });
      return value;
    }),
  );
}
