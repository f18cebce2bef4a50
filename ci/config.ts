/**
 * Pipeline config: `ci/pipeline.yaml`, parsed with `yaml` and checked by hand against the types below.
 *
 * Hand-checked rather than with a schema library: the file is small, and walking yaml's own nodes keeps
 * every error at the exact line and column of the offending key or value.
 */
import { open } from "node:fs/promises";
import {
  type Document,
  isAlias,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  parseDocument,
  visit,
  type YAMLMap,
} from "yaml";

/** Test kinds, each run as `npm run test:<kind>`. */
export const TEST_KINDS = ["unit", "integration", "e2e"] as const;
export type TestKind = (typeof TEST_KINDS)[number];

/** Trivy severities. */
export const SEVERITIES = ["UNKNOWN", "LOW", "MEDIUM", "HIGH", "CRITICAL"] as const;
export type Severity = (typeof SEVERITIES)[number];

/** What `scan` runs when Trivy's image or DB cannot be had. */
export const SCAN_FALLBACKS = ["debian-security", "none"] as const;
export type ScanFallback = (typeof SCAN_FALLBACKS)[number];

/** Tag kinds of the app image. */
export const TAG_KINDS = ["version", "sha", "branch"] as const;
export type TagKind = (typeof TAG_KINDS)[number];

/** One test matrix cell, or a partial one in `exclude`. */
export interface MatrixCell {
  node: string;
  kind: TestKind;
}

/** The whole config, as the stages see it. */
export interface PipelineConfig {
  /** The file it came from. */
  file: string;
  /** Node versions of the test matrix, e.g. ["22", "24", "26"]. */
  node: string[];
  /** Image platforms, e.g. ["linux/amd64", "linux/arm64"]. */
  platforms: string[];
  test: {
    kinds: TestKind[];
    include: MatrixCell[];
    exclude: Partial<MatrixCell>[];
    /** Debian packages every cell installs before `npm ci`: the tools the suites call (git, promtool…). */
    packages: string[];
    /** More Debian packages for e2e cells only (a BuildKit docker client, compose, a registry). */
    e2ePackages: string[];
  };
  images: {
    /** Template with "{version}". */
    node: string;
    prometheus: string;
    alertmanager: string;
    trivy: string;
    dockerCli: string;
    /** A Docker daemon as a service (docker:<v>-dind): e2e cells reach it as tcp://docker:2375. */
    dind: string;
    grafana: string;
  };
  image: { name: string; tags: TagKind[]; nodeVersion: string };
  /** Where `build --push` publishes. */
  build: {
    /** host[:port]/namespace, e.g. "ghcr.io/acme"; "" leaves it to --registry or CODEX_REGISTRY. */
    registry: string;
    /** Registries reached over plain HTTP without TLS checks (loopback ones always are). */
    insecureRegistries: string[];
  };
  scan: {
    enabled: boolean;
    severity: Severity[];
    ignoreUnfixed: boolean;
    ignoreFile: string;
    /** The scanner used when Trivy's image or DB cannot be had; `none` fails the stage instead. */
    fallback: ScanFallback;
  };
  deploy: { composeFile: string; healthUrl: string; timeoutSeconds: number };
  cache: { npm: string };
}

/** A bad config: names the file, line, column, key and what was expected. */
export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly col: number,
    readonly key: string,
    readonly expected: string,
  ) {
    super(`${file}:${line}:${col}: ${key || "(top level)"}: ${expected}`);
    this.name = "ConfigError";
  }
}

/** Checks a node and returns its value, or throws a ConfigError at its position. */
type Check<T> = (node: Node | null | undefined, key: string, at: Where) => T;

/** Turns a node (or its parent, when missing) into a ConfigError; follows aliases to what they name. */
interface Where {
  fail(node: Node | null | undefined, key: string, expected: string): never;
  /** Line and column where a node starts. */
  position(node: Node | null | undefined): { line: number; col: number };
  /** The node an alias stands for (the node itself when it is not one). */
  deref(node: Node | null | undefined): Node | null | undefined;
}

/** Shows a node's value briefly in an error. */
function shown(node: Node | null | undefined): string {
  if (node == null) return "nothing";
  if (isMap(node)) return "a mapping";
  if (isSeq(node)) return "a list";
  if (isScalar(node)) return node.value === null ? "null" : JSON.stringify(node.value);
  return "something else";
}

/** A non-empty string matching `re`. */
const str =
  (what = "a non-empty string", re?: RegExp): Check<string> =>
  (node, key, at) => {
    const n = at.deref(node);
    const v = isScalar(n) ? n.value : undefined;
    if (typeof v !== "string" || v === "" || (re && !re.test(v)))
      return at.fail(node, key, `expected ${what}, got ${shown(n)}`);
    return v;
  };

/** A Node version: digits, given as a string or a number. */
const version: Check<string> = (node, key, at) => {
  const n = at.deref(node);
  const v = isScalar(n) ? n.value : undefined;
  const s = typeof v === "number" || typeof v === "string" ? String(v) : "";
  if (!/^\d+(\.\d+){0,2}$/.test(s))
    return at.fail(node, key, `expected a Node version such as "22", got ${shown(n)}`);
  return s;
};

/** One of `values`. */
const oneOf =
  <T extends string>(values: readonly T[]): Check<T> =>
  (node, key, at) => {
    const n = at.deref(node);
    const v = isScalar(n) ? n.value : undefined;
    if (!values.includes(v as T))
      return at.fail(node, key, `expected one of ${values.join(", ")}, got ${shown(n)}`);
    return v as T;
  };

/** true or false. */
const bool: Check<boolean> = (node, key, at) => {
  const n = at.deref(node);
  const v = isScalar(n) ? n.value : undefined;
  if (typeof v !== "boolean") return at.fail(node, key, `expected true or false, got ${shown(n)}`);
  return v;
};

/** A positive integer. */
const posInt: Check<number> = (node, key, at) => {
  const n = at.deref(node);
  const v = isScalar(n) ? n.value : undefined;
  if (typeof v !== "number" || !Number.isInteger(v) || v <= 0)
    return at.fail(node, key, `expected a positive integer, got ${shown(n)}`);
  return v;
};

/** A list of items, non-empty unless `allowEmpty`. */
const list =
  <T>(item: Check<T>, allowEmpty = false): Check<T[]> =>
  (node, key, at) => {
    const seq = at.deref(node);
    if (!isSeq(seq)) return at.fail(node, key, `expected a list, got ${shown(seq)}`);
    if (!allowEmpty && seq.items.length === 0)
      return at.fail(node, key, "expected a non-empty list");
    return seq.items.map((n, i) => item(n as Node, `${key}[${i}]`, at));
  };

type Shape<T> = { [K in keyof T]-?: Check<T[K]> };

/** A mapping with exactly the keys of `shape` (those in `optional` may be left out); unknown keys are errors. */
const obj =
  <T>(shape: Shape<T>, optional: (keyof T)[] = []): Check<T> =>
  (node, key, at) => {
    const target = at.deref(node);
    if (!isMap(target)) return at.fail(node, key, `expected a mapping, got ${shown(target)}`);
    const map = target as YAMLMap<Node, Node>;
    const out: Record<string, unknown> = {};
    const known = Object.keys(shape);
    const first = new Map<string, Node>();
    for (const pair of map.items) {
      const keyNode = at.deref(pair.key);
      if (!isScalar(keyNode))
        return at.fail(
          pair.key ?? map,
          key,
          `expected a plain key, got ${shown(keyNode)} (complex keys are not allowed)`,
        );
      const k = String(keyNode.value);
      const path = key ? `${key}.${k}` : k;
      const seen = first.get(k);
      if (seen) {
        const { line } = at.position(seen);
        return at.fail(pair.key, path, `duplicate key (first at line ${line})`);
      }
      first.set(k, pair.key);
      if (k === "<<" && !known.includes(k))
        return at.fail(pair.key, path, "merge keys (<<) are not supported; write the keys out");
      if (!known.includes(k))
        return at.fail(pair.key, path, `unknown key; expected one of ${known.join(", ")}`);
      out[k] = (shape as Record<string, Check<unknown>>)[k]?.(pair.value, path, at);
    }
    for (const k of known)
      if (!(k in out) && !optional.includes(k as keyof T))
        return at.fail(node, key ? `${key}.${k}` : k, `missing required key "${k}"`);
    return out as T;
  };

const cell = obj<MatrixCell>({ node: version, kind: oneOf(TEST_KINDS) });
const anyPartialCell = obj<Partial<MatrixCell>>(
  {
    node: version as Check<string | undefined>,
    kind: oneOf(TEST_KINDS) as Check<TestKind | undefined>,
  },
  ["node", "kind"],
);
/** An exclude entry: `{}` would match, and drop, every cell. */
const partialCell: Check<Partial<MatrixCell>> = (node, key, at) => {
  const c = anyPartialCell(node, key, at);
  if (c.node === undefined && c.kind === undefined)
    return at.fail(
      node,
      key,
      "an exclude entry needs node or kind (an empty one matches every cell)",
    );
  return c;
};

/**
 * An image reference as Docker parses it (distribution/reference): `[host[:port]/]path[:tag][@digest]`, the path in
 * lower case. So it cannot start with `-` (the engine would read a flag) nor hold spaces or shell syntax.
 */
const IMAGE_REF = (() => {
  const alnum = "[a-z0-9]+";
  const path = `${alnum}(?:(?:[._]|__|-+)${alnum})*`;
  const hostPart = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
  const host = `(?:${hostPart}(?:\\.${hostPart})*|\\[[0-9a-fA-F:]+\\])(?::[0-9]+)?`;
  const tag = "[\\w][\\w.-]{0,127}";
  const digest = "[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}";
  return new RegExp(`^(?:${host}/)?${path}(?:/${path})*(?::${tag})?(?:@${digest})?$`);
})();

/** True for a Docker image reference (bounded in length before the pattern runs). */
export function isImageRef(ref: string): boolean {
  return ref.length <= 512 && IMAGE_REF.test(ref);
}

const imageRef: Check<string> = (node, key, at) => {
  const v = str("an image reference such as name:tag")(node, key, at);
  if (!isImageRef(v))
    return at.fail(
      node,
      key,
      `expected an image reference such as name:tag, got ${shown(at.deref(node))}`,
    );
  return v;
};

/** The node image template: an image reference once `{version}` (which it must contain) is filled in. */
const nodeImageTemplate: Check<string> = (node, key, at) => {
  const v = str('an image reference with "{version}", such as node:{version}-bookworm-slim')(
    node,
    key,
    at,
  );
  if (!v.includes("{version}") || !isImageRef(v.replaceAll("{version}", "22")))
    return at.fail(
      node,
      key,
      `expected an image reference with "{version}", such as node:{version}-bookworm-slim, got ${shown(at.deref(node))}`,
    );
  return v;
};

/** host[:port][/namespace]: no scheme, no credentials. */
export const REGISTRY = /^[a-z0-9.-]+(:\d+)?(\/[a-z0-9._/-]+)?$/i;

const debPackage = str("a Debian package name", /^[a-z0-9][a-z0-9+.-]+$/);

/** The shape of the file, key by key. */
const schema = obj<Omit<PipelineConfig, "file">>({
  node: list(version),
  platforms: list(str("a platform such as linux/amd64", /^[a-z0-9]+\/[a-z0-9]+(\/[a-z0-9]+)?$/)),
  test: obj({
    kinds: list(oneOf(TEST_KINDS)),
    include: list(cell, true),
    exclude: list(partialCell, true),
    packages: list(debPackage, true),
    e2ePackages: list(debPackage, true),
  }),
  images: obj({
    node: nodeImageTemplate,
    prometheus: imageRef,
    alertmanager: imageRef,
    trivy: imageRef,
    dockerCli: imageRef,
    dind: imageRef,
    grafana: imageRef,
  }),
  image: obj({ name: imageRef, tags: list(oneOf(TAG_KINDS)), nodeVersion: version }),
  build: obj({
    registry: (node, key, at) => {
      const v = isScalar(node) ? node.value : undefined;
      if (v === "" || v === null) return "";
      return str("a registry such as ghcr.io/acme (host[:port]/namespace)", REGISTRY)(
        node,
        key,
        at,
      );
    },
    insecureRegistries: list(
      str("a registry host such as registry.local:5000", /^[a-z0-9.-]+(:\d+)?$/i),
      true,
    ),
  }),
  scan: obj({
    enabled: bool,
    severity: list(oneOf(SEVERITIES)),
    ignoreUnfixed: bool,
    ignoreFile: str(),
    fallback: oneOf(SCAN_FALLBACKS),
  }),
  deploy: obj({
    composeFile: str(),
    healthUrl: str("an http(s) URL", /^https?:\/\/\S+$/),
    timeoutSeconds: posInt,
  }),
  cache: obj({ npm: str("a volume name", /^[a-zA-Z0-9][\w.-]*$/) }),
});

/** Parses and checks config text; `file` names it in errors. */
export function parseConfig(text: string, file: string): PipelineConfig {
  const lc = new LineCounter();
  // Duplicate keys are found by the checks, which know the key's full name.
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: false });
  const syntax = doc.errors[0];
  if (syntax) {
    const { line, col } = lc.linePos(syntax.pos[0]);
    throw new ConfigError(file, line, col, "", `invalid YAML: ${syntax.message.split("\n")[0]}`);
  }
  const targets = aliasTargets(doc);
  const position = (node: Node | null | undefined) =>
    node?.range ? lc.linePos(node.range[0]) : { line: 1, col: 1 };
  const at: Where = {
    fail(node, key, expected) {
      const { line, col } = position(node);
      const via = isAlias(node) ? ` (through alias *${node.source})` : "";
      throw new ConfigError(file, line, col, key, `${expected}${via}`);
    },
    position,
    deref: (node) => (isAlias(node) ? targets.get(node) : node),
  };
  const config: PipelineConfig = { file, ...schema(doc.contents as Node | null, "", at) };
  if (matrixCells(config).length === 0) {
    const testNode = at.deref((doc.contents as YAMLMap<Node, Node>).get("test", true) as Node);
    return at.fail(
      isMap(testNode) ? (testNode.get("exclude", true) as Node) : testNode,
      "test.exclude",
      "drops every cell of the test matrix (nothing would be tested)",
    );
  }
  return config;
}

/** What each alias stands for: the last node before it with that anchor, found in one pass (yaml's own resolve walks the document per alias). */
function aliasTargets(doc: Document): Map<Node, Node> {
  const anchors = new Map<string, Node>();
  const targets = new Map<Node, Node>();
  visit(doc, {
    Node(_key, node) {
      if (isAlias(node)) {
        const target = anchors.get(node.source);
        if (target) targets.set(node, target);
      } else if (node.anchor) anchors.set(node.anchor, node);
    },
  });
  return targets;
}

/** Bigger than any pipeline config (the shipped one is 3 KB); parsing 256 KiB of YAML takes about a second. */
export const MAX_CONFIG_BYTES = 256 * 1024;

/** Reads and checks the config file (default `ci/pipeline.yaml`); errors name it as given. */
export async function loadConfig(file = "ci/pipeline.yaml"): Promise<PipelineConfig> {
  let text: string;
  try {
    text = await readBounded(file, MAX_CONFIG_BYTES);
  } catch (e) {
    if (e instanceof RangeError)
      throw new ConfigError(
        file,
        1,
        1,
        "",
        `larger than ${MAX_CONFIG_BYTES / 1024} KiB (${MAX_CONFIG_BYTES} bytes): not a pipeline config`,
      );
    throw new ConfigError(file, 1, 1, "", `cannot read: ${(e as Error).message}`);
  }
  return parseConfig(text, file);
}

/** Reads a file as UTF-8, at most `max` bytes (a RangeError beyond), so a huge file or a device is never read whole. */
async function readBounded(file: string, max: number): Promise<string> {
  const fh = await open(file, "r");
  try {
    const buf = Buffer.alloc(max + 1);
    let len = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, len, buf.length - len, null);
      if (bytesRead === 0) break;
      len += bytesRead;
      if (len > max) throw new RangeError(`${file}: over ${max} bytes`);
    }
    return buf.toString("utf8", 0, len);
  } finally {
    await fh.close();
  }
}

/** The image reference of Node `version`. */
export function nodeImage(config: PipelineConfig, v: string): string {
  return config.images.node.replaceAll("{version}", v);
}

/** The test matrix after include/exclude, for the selected kinds, in version-then-kind order. */
export function matrixCells(config: PipelineConfig, only?: TestKind[]): MatrixCell[] {
  const kinds = only?.length ? only : config.test.kinds;
  const excluded = (c: MatrixCell) =>
    config.test.exclude.some(
      (x) =>
        (x.node === undefined || x.node === c.node) && (x.kind === undefined || x.kind === c.kind),
    );
  const cells = config.node.flatMap((node) =>
    config.test.kinds.map((kind) => ({ node, kind })).filter((c) => !excluded(c)),
  );
  for (const c of config.test.include)
    if (!cells.some((x) => x.node === c.node && x.kind === c.kind)) cells.push(c);
  return cells.filter((c) => kinds.includes(c.kind));
}
