/** Offline stand-ins (`images --offline`) say what they really hold in a label; `--plan` shows it. */
import { exec } from "./process.js";

/** The label every stand-in carries, e.g. "Debian docker.io 20.10.24+dfsg1-1+deb12u1". */
export const STAND_IN_LABEL = "codex-ci.stand-in";

/** For each local image that is a stand-in, what it holds. Images absent or not stand-ins are left out. */
export async function standIns(refs: string[], dockerBin: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const format = `{{index .Config.Labels "${STAND_IN_LABEL}"}}`;
  await Promise.all(
    [...new Set(refs)].map(async (ref) => {
      const r = await exec([dockerBin, "image", "inspect", "--format", format, ref], {
        timeoutMs: 10_000,
      });
      const what = r.stdout.trim();
      if (r.exitCode === 0 && what && what !== "<no value>") out.set(ref, what);
    }),
  );
  return out;
}
