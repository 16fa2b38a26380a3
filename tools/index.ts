import type { Tool } from '../src/core/tools/define-tool.ts';
import { escalateToHuman } from './escalate-to-human.ts';
import { recall } from './recall.ts';
import { remember } from './remember.ts';

/** Every built-in tool, listed explicitly; agents opt into them by name in the config. */
export const BUILT_IN_TOOLS: readonly Tool[] = [escalateToHuman, remember, recall];

export const BUILT_IN_TOOL_NAMES: readonly string[] = BUILT_IN_TOOLS.map((tool) => tool.name);
