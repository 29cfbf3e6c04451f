/**
 * The kernel's table of magics. Built-ins are added by one explicit call at
 * kernel start (house rule 3); `%load_plugin` adds more at run time.
 */
import { SlimlabError, suggestion } from "../../plugins/core/errors";
import { MagicSpec } from "../../plugins/core/magic";
import { MagicLookup } from "./expand";

export interface RegisteredMagic {
  spec: MagicSpec;
  /** Where it came from: "builtin" or a plugin's path. */
  source: string;
}

export class MagicRegistry implements MagicLookup {
  private readonly table = new Map<string, RegisteredMagic>();

  /** Adds `spec`. Throws E_PLUGIN for a name already taken or an invalid declaration. */
  register(spec: MagicSpec, source: string): void {
    if (!/^[A-Za-z_]\w*$/.test(spec?.name ?? "")) {
      throw new SlimlabError("E_PLUGIN", `${source}: magic name ${JSON.stringify(spec?.name)} is not a valid name; use letters, digits and _`);
    }
    if (typeof spec.run !== "function" || typeof spec.summary !== "string" || !Array.isArray(spec.positional) || typeof spec.flags !== "object") {
      throw new SlimlabError("E_PLUGIN", `${source}: magic %${spec.name} needs name, summary, positional, flags and run; see "Writing a plugin" in the README`);
    }
    if (spec.output !== undefined && (typeof spec.output.value !== "function" || typeof spec.output.help !== "string")) {
      throw new SlimlabError("E_PLUGIN", `${source}: magic %${spec.name} declares output without help and value(result); see "Writing a plugin" in the README`);
    }
    if (spec.output !== undefined && ("output" in spec.flags || Object.values(spec.flags).some((f) => f.short === "o"))) {
      throw new SlimlabError("E_PLUGIN", `${source}: magic %${spec.name} declares output, which adds -o/--output, and a flag of that name too; drop one of them`);
    }
    if (spec.argNames !== undefined && typeof spec.argNames !== "boolean") {
      throw new SlimlabError("E_PLUGIN", `${source}: magic %${spec.name} has argNames ${JSON.stringify(spec.argNames)}; allowed: true or false`);
    }
    if (spec.check !== undefined && typeof spec.check !== "function") {
      throw new SlimlabError("E_PLUGIN", `${source}: magic %${spec.name} has a check that is not a function`);
    }
    const prev = this.table.get(spec.name);
    if (prev && prev.source !== source) {
      throw new SlimlabError("E_PLUGIN", `${source}: magic %${spec.name} is already defined by ${prev.source}; pick another name`);
    }
    this.table.set(spec.name, { spec, source });
  }

  /** Removes every magic `source` registered; returns their names. */
  removeSource(source: string): string[] {
    const names = [...this.table].filter(([, r]) => r.source === source).map(([n]) => n);
    for (const n of names) this.table.delete(n);
    return names;
  }

  /** Names of the magics `source` registered. */
  namesFrom(source: string): string[] {
    return [...this.table].filter(([, r]) => r.source === source).map(([n]) => n).sort();
  }

  get(name: string): MagicSpec | undefined {
    return this.table.get(name)?.spec;
  }

  /** Like get, but throws E_UNKNOWN_MAGIC with a suggestion. */
  require(name: string): MagicSpec {
    const spec = this.get(name);
    if (!spec) throw new SlimlabError("E_UNKNOWN_MAGIC", `unknown magic %${name}${suggestion(name, this.names(), "%")}; %lsmagic lists them`);
    return spec;
  }

  names(): string[] {
    return [...this.table.keys()].sort();
  }

  entries(): RegisteredMagic[] {
    return this.names().map((n) => this.table.get(n) as RegisteredMagic);
  }
}
