/**
 * Codex Father's pipeline as Dagger functions: lint, test, build, scan, publish, deploy, and the app as a service.
 *
 * Each function runs the same command as the card's `dagger run npx tsx ci/main.ts <stage>`, in a runner
 * container holding the repository, with the Dagger API passed in (a nested session): the stages of ci/ run
 * unchanged, and the runner is their host. The module copies no stage; it chooses arguments and returns Dagger
 * objects. Why a runner: Dagger's TypeScript runtime loads only this module's own directory (.dagger/), so ci/
 * cannot be imported here; see docs/pipeline.md, "The Dagger module".
 */
import {
  argument,
  type Container,
  check,
  type Directory,
  dag,
  type File,
  func,
  type GitRef,
  object,
  type Platform,
  type Secret,
  type Service,
  type Socket,
  up,
} from "@dagger.io/dagger";
import { SOURCE_EXCLUDE } from "./source-exclude.js";

/** The runner's image: the image's Node (ci/pipeline.yaml `image.nodeVersion`), as the workflow's setup-node. */
export const RUNNER_IMAGE = "node:26-bookworm-slim";
/** npm's cache volume, the one the pipeline's steps use (ci/pipeline.yaml `cache.npm`). */
export const NPM_CACHE = "codex-ci-npm";
/** Where the repository is in the runner: the pipeline's root. */
export const ROOT = "/src";
/** Tells ci/main.ts it runs in this runner, whose nested session has no Docker daemon to load images into. */
export const MODULE_ENV = "CODEX_CI_DAGGER_MODULE";
/** The extra CA bundle in the runner, read by npm and by ci/main.ts as NODE_EXTRA_CA_CERTS. */
const CA_PATH = "/usr/local/share/codex-ci/ca.pem";
/** The daemon socket `deploy` is given, where the Docker client looks for it. */
const DOCKER_SOCKET = "/var/run/docker.sock";

/** What a runner needs besides the repository. */
interface RunnerNeeds {
  /** Debian packages, installed before the source goes in (cached apart from source changes). */
  packages?: string[];
  /** The commit's .git: build labels and tags the image with its revision, time and branch. */
  git?: boolean;
  /** Environment for the pipeline (plain values only). */
  env?: Record<string, string>;
}

/** `--flag a,b` when the list is not empty. */
const listFlag = (flag: string, values: string[]): string[] =>
  values.length ? [flag, values.join(",")] : [];

/** A run id per call: names the run's resources, and keeps the engine from answering from its cache. */
const freshRunId = (): string =>
  `mod-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;

@object()
export class CodexFather {
  source: Directory;
  git: GitRef;
  ca?: File;

  constructor(
    /** The repository, without what the pipeline never copies (node_modules, .git, dist, reports…). */
    @argument({ defaultPath: "/", ignore: SOURCE_EXCLUDE }) source: Directory,
    /** Its checked-out commit: the image's revision, created time and branch (the source has no .git). */
    @argument({ defaultPath: "/" }) git: GitRef,
    /** An extra CA bundle for npm and the pipeline's steps, as `ci/main.ts --ca-file` (a TLS proxy's CA). */
    ca?: File,
  ) {
    this.source = source;
    this.git = git;
    this.ca = ca;
  }

  /** The runner: Node, the repository at /src with `npm ci` done, and what `needs` adds. */
  private runner(needs: RunnerNeeds = {}): Container {
    let c = dag
      .container()
      .from(RUNNER_IMAGE)
      .withMountedCache("/root/.npm", dag.cacheVolume(NPM_CACHE))
      .withEnvVariable("CI", "true")
      .withEnvVariable("npm_config_update_notifier", "false")
      .withEnvVariable("npm_config_fund", "false")
      .withEnvVariable("npm_config_audit", "false");
    const packages = [...(needs.packages ?? []), ...(needs.git ? ["git"] : [])];
    if (packages.length)
      c = c
        .withExec(["apt-get", "update", "-qq"])
        .withEnvVariable("DEBIAN_FRONTEND", "noninteractive")
        .withExec(["apt-get", "install", "-y", "-qq", "--no-install-recommends", ...packages])
        .withoutEnvVariable("DEBIAN_FRONTEND");
    if (this.ca) c = c.withFile(CA_PATH, this.ca).withEnvVariable("NODE_EXTRA_CA_CERTS", CA_PATH);
    c = c
      .withWorkdir(ROOT)
      .withDirectory(ROOT, this.source, { include: ["package.json", "package-lock.json"] })
      .withExec(["npm", "ci", "--prefer-offline"])
      .withDirectory(ROOT, this.source);
    if (needs.git)
      c = c.withDirectory(`${ROOT}/.git`, this.git.tree({ depth: 1 }).directory(".git"));
    for (const [k, v] of Object.entries({ [MODULE_ENV]: "1", ...needs.env }))
      c = c.withEnvVariable(k, v);
    return c;
  }

  /** `npx tsx ci/main.ts <args> --engine dagger` in the runner, with the Dagger API (a nested session). */
  private pipeline(runner: Container, args: string[]): Container {
    return runner.withExec(["npx", "tsx", "ci/main.ts", ...args, "--engine", "dagger"], {
      experimentalPrivilegedNesting: true,
    });
  }

  /**
   * Lint: npm ci, type-check, Biome, promtool/amtool, actionlint, the compose and dashboard checks
   * (`ci/main.ts lint`). Returns the runner after the run: `stdout` is the summary.
   */
  @func()
  @check()
  lint(): Container {
    return this.pipeline(this.runner(), ["lint"]);
  }

  /**
   * Test: Node versions × test kinds, each cell in its own container, e2e cells with a Docker daemon of their
   * own (`ci/main.ts test`).
   */
  @func()
  @check()
  test(
    /** Node versions, e.g. ["22", "24"] (default: ci/pipeline.yaml `node`). */
    node: string[] = [],
    /** Test kinds: unit, integration, e2e (default: all). */
    kinds: string[] = [],
  ): Container {
    return this.pipeline(this.runner(), [
      "test",
      ...listFlag("--node", node),
      ...listFlag("--only", kinds),
    ]);
  }

  /**
   * Build: docker/Dockerfile for each platform (`ci/main.ts build`). Returns reports/: one OCI tarball per
   * platform under images/, the multi-platform one, and build.json.
   */
  @func()
  build(
    /** Platforms, e.g. ["linux/arm64"] (default: ci/pipeline.yaml `platforms`). */
    platforms: string[] = [],
  ): Directory {
    return this.pipeline(this.runner({ git: true }), [
      "build",
      ...listFlag("--platform", platforms),
    ]).directory(`${ROOT}/reports`);
  }

  /** The image for one platform, built by `build` (default: the engine's platform). */
  @func()
  async image(
    /** e.g. "linux/arm64". */
    platform = "",
  ): Promise<Container> {
    const p = platform || ((await dag.defaultPlatform()) as string);
    const reports = this.build([p]);
    const manifest = JSON.parse(await reports.file("build.json").contents()) as {
      platforms: { platform: string; tarball?: string }[];
    };
    const tarball = manifest.platforms.find((x) => x.platform === p)?.tarball;
    if (!tarball) throw new Error(`build wrote no tarball for ${p}`);
    return dag
      .container({ platform: p as Platform })
      .import_(reports.file(tarball.replace(/^reports\//, "")));
  }

  /**
   * Scan: Trivy on each built platform (`ci/main.ts scan`, after build). Fails on the severities of
   * ci/pipeline.yaml; reports/trivy.sarif in the returned runner.
   */
  @func()
  @check()
  scan(
    /** Platforms to build and scan (default: ci/pipeline.yaml `platforms`). */
    platforms: string[] = [],
  ): Container {
    return this.pipeline(this.runner({ git: true }), [
      "scan",
      ...listFlag("--platform", platforms),
    ]);
  }

  /**
   * Publish: build and push every tag as one multi-platform image (`ci/main.ts build --push --registry …`);
   * the pushed refs.
   */
  @func({ cache: "never" })
  async publish(
    /** Where to push: host[:port]/namespace, e.g. "ghcr.io/acme" (default: ci/pipeline.yaml `build.registry`). */
    registry = "",
    /** Registry user; with `password`. */
    username = "",
    /** Registry password or token. */
    password?: Secret,
    /** Platforms (default: ci/pipeline.yaml `platforms`). */
    platforms: string[] = [],
  ): Promise<string[]> {
    let c = this.runner({
      git: true,
      env: {
        CODEX_CI_RUN_ID: freshRunId(),
        ...(username ? { CODEX_REGISTRY_USERNAME: username } : {}),
      },
    });
    if (password) c = c.withSecretVariable("CODEX_REGISTRY_PASSWORD", password);
    c = this.pipeline(c, [
      "build",
      "--push",
      ...(registry ? ["--registry", registry] : []),
      ...listFlag("--platform", platforms),
    ]);
    const manifest = JSON.parse(await c.file(`${ROOT}/reports/build.json`).contents()) as {
      published: string[];
    };
    return manifest.published;
  }

  /**
   * Deploy: the compose stack on the Docker daemon you give, health-gated with rollback (`ci/main.ts deploy`,
   * after test, build and scan). The pipeline runs on its Docker engine against that daemon, which is where the
   * image must end up. Returns the pipeline's summary.
   */
  @func({ cache: "never" })
  async deploy(
    /** The daemon's socket, e.g. --docker /var/run/docker.sock. */
    docker?: Socket,
    /** Or a tcp:// DOCKER_HOST. */
    dockerHost = "",
    /** Environment: docker/environments/<name>.yaml. */
    env = "development",
    /** Tear the stack down instead (keeps named volumes unless `volumes`). */
    down = false,
    /** With `down`: also remove named volumes. */
    volumes = false,
    /** Platforms to build (default: ci/pipeline.yaml `platforms`). */
    platforms: string[] = [],
    /** Passed to the stack as GITHUB_TOKEN. */
    githubToken?: Secret,
  ): Promise<string> {
    if (!docker && !dockerHost)
      throw new Error(
        "deploy needs a Docker daemon: --docker /var/run/docker.sock, or --docker-host tcp://host:2375",
      );
    let c = this.runner({
      packages: ["docker.io", "docker-compose"],
      git: !down,
      env: { CODEX_CI_RUN_ID: freshRunId(), ...(dockerHost ? { DOCKER_HOST: dockerHost } : {}) },
    });
    if (docker) c = c.withUnixSocket(DOCKER_SOCKET, docker);
    if (githubToken) c = c.withSecretVariable("GITHUB_TOKEN", githubToken);
    const args = ["deploy", "--env", env, ...listFlag("--platform", platforms)];
    if (down) args.push("--down", ...(volumes ? ["--volumes"] : []));
    return c.withExec(["npx", "tsx", "ci/main.ts", ...args, "--engine", "docker"]).stdout();
  }

  /**
   * The app as a service (`dagger up`): the image `image` builds, started as the stack starts it, with MCP on
   * 3000 and metrics, /health and /ready on 9090. Prometheus, Alertmanager and Grafana come with `deploy`.
   */
  @func()
  @up()
  async serve(): Promise<Service> {
    return (await this.image())
      .withExposedPort(3000, { description: "MCP server" })
      .withExposedPort(9090, { description: "metrics, /health, /ready" })
      .asService({ args: ["start"], useEntrypoint: true });
  }
}
