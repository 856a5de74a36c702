/**
 * `clustd init`: writes `config.yml` and a fresh `secret` (mode 0600) for a
 * new node, from flags only (no prompts). What it writes is validated with the
 * same code as `check-config` before anything touches the disk; it never
 * overwrites a file without --force.
 */

import { formatIssue, readFileSync } from "../config/load.ts";
import { dirname, joinPath, resolvePath } from "../config/path.ts";
import { STATE_DIR_DEFAULT } from "../config/schema.ts";
import { generateSecret } from "../config/secret.ts";
import type { ConfigIssue, NodeRole } from "../config/types.ts";
import { validateConfig } from "../config/validate.ts";
import {
  type Command,
  EXIT_FAILURE,
  EXIT_OK,
  EXIT_USAGE,
  type FlagValues,
  parseCommandArgs,
  stringFlag,
  stringsFlag,
  usageError,
} from "./_command.ts";

/** Mode of the secret file: owner read/write only. */
const SECRET_MODE = 0o600;

/** Values `init` writes into the config. */
interface InitPlan {
  id: string;
  listen: string;
  advertise: string;
  role: NodeRole;
  priority: number | undefined;
  peers: { id: string; url: string; role: NodeRole }[];
  stateDir: string;
  configPath: string;
  secretPath: string;
  /** True when init generates the secret (no --secret-file given). */
  writeSecret: boolean;
}

/** The `init` command. */
export const initCommand: Command = {
  name: "init",
  summary: "Write a config and a secret for a new node",
  usage:
    `Usage: clustd init --id ID --advertise URL [--peer ID=URL]... [options]

Writes DIR/config.yml and DIR/secret (a new cluster secret, mode 0600) for a
new node. Give the same secret to every node: run init on the first node, copy
its secret, and pass --secret-file on the others. Refuses to overwrite
existing files unless --force is given. With exactly one voter peer and no
witness, the config sets "two_node: true" (see the comment it writes); add a
witness with --witness-peer to avoid that.

Options:
  --id ID                 This node's id ([a-z0-9._-])
  --listen HOST:PORT      Address to listen on (default: 0.0.0.0:7400)
  --advertise URL         How peers reach this node, e.g. ws://10.0.0.1:7400
  --peer ID=URL           A voter peer (repeatable)
  --witness-peer ID=URL   A witness peer (repeatable)
  --witness               Make this node a witness (votes, never master)
  --priority N            0..255, higher is preferred (default 100)
  --secret-file PATH      Use an existing secret instead of generating one
  --state-dir DIR         Where the term and vote are kept (default ${STATE_DIR_DEFAULT})
  --dir DIR               Where to write config.yml and secret (default: .)
  --force                 Overwrite existing files`,
  async run(args) {
    const parsed = parseCommandArgs(this, args, {
      options: {
        id: { type: "string" },
        listen: { type: "string" },
        advertise: { type: "string" },
        peer: { type: "string", multiple: true },
        "witness-peer": { type: "string", multiple: true },
        witness: { type: "boolean" },
        priority: { type: "string" },
        "secret-file": { type: "string" },
        "state-dir": { type: "string" },
        dir: { type: "string" },
        force: { type: "boolean" },
      },
    });
    if (typeof parsed === "number") return parsed;
    const plan = planFromFlags(this, parsed.values);
    if (typeof plan === "number") return plan;
    return await writePlan(plan, parsed.values.force === true);
  },
};

function planFromFlags(
  command: Command,
  values: FlagValues,
): InitPlan | number {
  const id = stringFlag(values, "id");
  const advertise = stringFlag(values, "advertise");
  if (id === undefined) {
    return usageError(command, "Missing --id: name this node, e.g. --id web-1");
  }
  if (advertise === undefined) {
    return usageError(
      command,
      "Missing --advertise: say how peers reach this node, e.g. --advertise ws://10.0.0.1:7400",
    );
  }
  const peers: InitPlan["peers"] = [];
  for (
    const [flag, role] of [["peer", "voter"], [
      "witness-peer",
      "witness",
    ]] as const
  ) {
    for (const spec of stringsFlag(values, flag)) {
      const at = spec.indexOf("=");
      if (at < 1) {
        return usageError(
          command,
          `--${flag} ${
            JSON.stringify(spec)
          } must be ID=URL, e.g. web-2=ws://10.0.0.2:7400`,
        );
      }
      peers.push({ id: spec.slice(0, at), url: spec.slice(at + 1), role });
    }
  }
  const priorityText = stringFlag(values, "priority");
  let priority: number | undefined;
  if (priorityText !== undefined) {
    priority = /^[0-9]{1,3}$/.test(priorityText) ? Number(priorityText) : NaN;
    if (!(priority <= 255)) {
      return usageError(
        command,
        `--priority must be an integer from 0 to 255, not ${
          JSON.stringify(priorityText)
        }`,
      );
    }
  }
  const dir = resolvePath(stringFlag(values, "dir") ?? ".");
  const secretFile = stringFlag(values, "secret-file");
  return {
    id,
    listen: stringFlag(values, "listen") ?? "0.0.0.0:7400",
    advertise,
    role: values.witness === true ? "witness" : "voter",
    priority,
    peers,
    stateDir: stringFlag(values, "state-dir") ?? STATE_DIR_DEFAULT,
    configPath: joinPath(dir, "config.yml"),
    secretPath: secretFile === undefined
      ? joinPath(dir, "secret")
      : resolvePath(secretFile),
    writeSecret: secretFile === undefined,
  };
}

/** The YAML `init` writes, with comments. Values are JSON-quoted (valid YAML). */
export function renderConfig(plan: InitPlan): string {
  const q = (value: string) => JSON.stringify(value);
  const voters =
    [plan.role, ...plan.peers.map((p) => p.role)].filter((r) => r === "voter")
      .length;
  const twoNode = voters === 2 && plan.peers.every((p) => p.role === "voter") &&
    plan.role === "voter";
  const peerLines = plan.peers.map((peer) =>
    `    - { id: ${q(peer.id)}, url: ${q(peer.url)}, role: ${peer.role} }`
  );
  const lines = [
    "# Written by `clustd init`. Every key is documented in config.example.yml.",
    "node:",
    `  id: ${q(plan.id)}`,
    `  listen: ${q(plan.listen)}`,
    `  advertise: ${q(plan.advertise)}`,
    `  role: ${plan.role}`,
    ...(plan.priority === undefined ? [] : [`  priority: ${plan.priority}`]),
    "cluster:",
    "  # Same secret on every node; keep it mode 0600.",
    `  secret_file: ${q(plan.secretPath)}`,
    ...(peerLines.length === 0 ? ["  peers: []"] : ["  peers:", ...peerLines]),
    "  heartbeat_ms: 1500",
    "  election_timeout_ms: 3000",
    "  preempt: false",
    ...(twoNode
      ? [
        "  # Two voters and no witness: either may be master alone, so a network",
        "  # split makes two masters. Add a witness peer and remove this line.",
        "  two_node: true",
      ]
      : ["  two_node: false"]),
    `state_dir: ${q(plan.stateDir)}`,
  ];
  if (plan.role === "voter") {
    lines.push(
      "# Drivers act on promote/demote, e.g.:",
      "#   - { type: bash, promote: /etc/clustd/promote.sh, demote: /etc/clustd/demote.sh }",
      "drivers: []",
      "# Health checks make this node ineligible while they fail, e.g.:",
      "#   - { command: /usr/local/bin/check-nginx, interval_ms: 2000 }",
      "checks: []",
    );
  }
  return lines.join("\n") + "\n";
}

/** Maps config key paths back to the flag that set them, for messages. */
function flagFor(issue: ConfigIssue): string {
  const path = issue.path;
  if (path.startsWith("cluster.peers[")) return "--peer/--witness-peer";
  const flags: Record<string, string> = {
    "node.id": "--id",
    "node.listen": "--listen",
    "node.advertise": "--advertise",
    "node.priority": "--priority",
    "cluster.secret_file": "--secret-file",
    "state_dir": "--state-dir",
  };
  return flags[path] ?? path;
}

async function writePlan(plan: InitPlan, force: boolean): Promise<number> {
  const secret = plan.writeSecret ? generateSecret() + "\n" : undefined;
  const text = renderConfig(plan);
  const result = validateConfig(text, {
    file: plan.configPath,
    path: plan.configPath,
    readFile: (path) =>
      secret !== undefined && path === plan.secretPath
        ? { ok: true, text: secret, mode: SECRET_MODE }
        : readFileSync(path),
  });
  if (!result.ok) {
    for (const issue of result.errors) {
      console.error(`error: ${flagFor(issue)}: ${issue.message}`);
    }
    return EXIT_USAGE;
  }
  const targets = secret === undefined
    ? [plan.configPath]
    : [plan.configPath, plan.secretPath];
  if (!force) {
    const existing = targets.filter(exists);
    if (existing.length > 0) {
      console.error(
        `clustd: ${
          existing.map((p) => JSON.stringify(p)).join(" and ")
        } already exist${
          existing.length === 1 ? "s" : ""
        }: pass --force to overwrite`,
      );
      return EXIT_FAILURE;
    }
  }
  try {
    await Deno.mkdir(dirname(plan.configPath), { recursive: true });
    if (secret !== undefined) {
      await Deno.writeTextFile(plan.secretPath, secret, { mode: SECRET_MODE });
      if (Deno.build.os !== "windows") {
        await Deno.chmod(plan.secretPath, SECRET_MODE);
      }
    }
    await Deno.writeTextFile(plan.configPath, text);
  } catch (error: unknown) {
    console.error(
      `clustd: cannot write: ${
        error instanceof Error ? error.message : String(error)
      }`,
    );
    return EXIT_FAILURE;
  }
  for (const issue of result.warnings) {
    console.error(`warning: ${formatIssue(issue)}`);
  }
  console.log(
    `Wrote ${targets.join(" and ")}${
      secret === undefined ? "" : " (secret mode 0600)"
    }.`,
  );
  console.log(`Check it with: clustd check-config ${plan.configPath}`);
  return EXIT_OK;
}

function exists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch (_error: unknown) {
    // NotFound (or unreadable parent): treat as absent; the write reports real errors.
    return false;
  }
}
