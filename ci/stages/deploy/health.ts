/** Reading container health from `docker inspect`, and the diagnostics printed when it fails. */

/** The parts of `docker inspect` we read. */
export interface Inspect {
  Id: string;
  Name: string;
  RestartCount?: number;
  Config: { Image: string; Labels?: Record<string, string> | null };
  State: {
    Status: string;
    Running: boolean;
    ExitCode: number;
    Health?: { Status: string; Log?: { ExitCode: number; Output: string }[] | null } | null;
  };
}

/** One service's standing. */
export interface ServiceHealth {
  service: string;
  container: string;
  /** healthy | starting | unhealthy | running (no healthcheck) | exited | restarting … */
  status: string;
  ready: boolean;
  /** True when waiting longer cannot help: the healthcheck gave up or the container stopped for good. */
  failed: boolean;
}

/** Judges each container: ready when healthy, or running when it has no healthcheck. */
export function judge(inspects: Inspect[]): ServiceHealth[] {
  return inspects.map((i) => {
    const service = i.Config.Labels?.["com.docker.compose.service"] ?? i.Name.replace(/^\//, "");
    const health = i.State.Health?.Status;
    const status = health ?? (i.State.Running ? "running" : i.State.Status);
    return {
      service,
      container: i.Name.replace(/^\//, ""),
      status,
      ready: health ? health === "healthy" : i.State.Running,
      // Unhealthy (retries used up), dead, or crash-looping: waiting longer cannot help.
      failed:
        health === "unhealthy" ||
        i.State.Status === "dead" ||
        ((i.RestartCount ?? 0) >= 2 && i.State.ExitCode !== 0),
    };
  });
}

/** The healthcheck's last outputs, newest last, for the failure report. */
export function healthcheckOutput(i: Inspect, last = 3): string {
  const log = i.State.Health?.Log ?? [];
  if (log.length === 0) return "(no healthcheck output)";
  return log
    .slice(-last)
    .map((l) => `exit ${l.ExitCode}: ${l.Output.trim()}`)
    .join("\n");
}
