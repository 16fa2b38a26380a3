import type { TokenUsage } from '../messages.ts';

/** USD per million tokens, prompt and completion priced separately (as providers bill them). */
export interface ModelPrice {
  readonly prompt: number;
  readonly completion: number;
}

export interface PriceTable {
  /** Micro-dollars for this usage; 0 for a model without a price (it then counts only in tokens). */
  costMicroUsd(model: string, usage: TokenUsage): number;
  has(model: string): boolean;
}

/**
 * Prices by model name. A response names a dated snapshot (`gpt-4.1-mini-2025-04-14`), so a name is
 * also matched by the longest configured name it starts with.
 */
export function createPriceTable(prices: Readonly<Record<string, ModelPrice>>): PriceTable {
  const names = Object.keys(prices).sort((a, b) => b.length - a.length);
  const cache = new Map<string, ModelPrice | null>();
  const priceOf = (model: string): ModelPrice | null => {
    let price = cache.get(model);
    if (price === undefined) {
      const name = prices[model] ? model : names.find((candidate) => model.startsWith(`${candidate}-`));
      price = name === undefined ? null : (prices[name] ?? null);
      cache.set(model, price);
    }
    return price;
  };
  return {
    // USD per million tokens × tokens = micro-dollars.
    costMicroUsd: (model, usage) => {
      const price = priceOf(model);
      if (!price) return 0;
      return Math.ceil(usage.promptTokens * price.prompt + usage.completionTokens * price.completion);
    },
    has: (model) => priceOf(model) !== null,
  };
}
