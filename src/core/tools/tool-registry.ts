import type { ToolSpec } from '../ports.ts';
import type { Tool } from './define-tool.ts';
import { toModelSchema } from './model-schema.ts';

export interface ToolRegistry {
  get(name: string): Tool | undefined;
  names(): readonly string[];
  /** The specs the model sees for these tool names, in the given order; unknown names are skipped. */
  specsFor(names: readonly string[]): ToolSpec[];
}

/** Holds every tool once; specs are computed at registration, not on every model call. */
export function createToolRegistry(tools: readonly Tool[]): ToolRegistry {
  const byName = new Map<string, { tool: Tool; spec: ToolSpec }>();
  for (const tool of tools) {
    if (byName.has(tool.name)) throw new TypeError(`tool "${tool.name}" is registered twice`);
    const { parameters, strict } = toModelSchema(tool.input);
    byName.set(tool.name, {
      tool,
      spec: { name: tool.name, description: describe(tool), parameters, strict },
    });
  }
  return {
    get: (name) => byName.get(name)?.tool,
    names: () => [...byName.keys()],
    specsFor: (names) =>
      names.flatMap((name) => {
        const entry = byName.get(name);
        return entry ? [entry.spec] : [];
      }),
  };
}

/** whenToUse / whenNotToUse go into the description: it is the only text the model reads about a tool. */
function describe(tool: Tool): string {
  return `${tool.description}\nUse when: ${tool.whenToUse}\nDo not use: ${tool.whenNotToUse}`;
}
