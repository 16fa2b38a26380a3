import type { ConversationRef } from './conversation.ts';
import type { Surface } from './surface.ts';

/**
 * One Surface over several platforms: every call goes to the surface of the target's platform, so
 * the core can serve Slack and Discord (and the console) from one set of workers.
 */
export function createRoutingSurface(surfaces: ReadonlyMap<string, Surface>): Surface {
  const of = (target: ConversationRef): Surface => {
    const surface = surfaces.get(target.platform);
    if (!surface) throw new TypeError(`no surface for platform "${target.platform}"`);
    return surface;
  };
  return {
    postAnswer: (target, text) => of(target).postAnswer(target, text),
    postNotice: (target, text, onlyFor) => of(target).postNotice(target, text, onlyFor),
    requestApproval: (target, approval) => of(target).requestApproval(target, approval),
    postEscalation: (target, escalation) => of(target).postEscalation(target, escalation),
    postBudgetRefusal: async (target, refusal, onlyFor) => {
      const surface = of(target);
      if (surface.postBudgetRefusal) return surface.postBudgetRefusal(target, refusal, onlyFor);
      return surface.postNotice(target, refusal.text, onlyFor);
    },
    postAdminRequest: async (target, request) => {
      const surface = of(target);
      if (surface.postAdminRequest) return surface.postAdminRequest(target, request);
      return surface.postNotice(target, `${request.requestedBy} ${request.text}`);
    },
    showWorking: async (target) => of(target).showWorking?.(target),
    showProgress: async (target, text) => of(target).showProgress?.(target, text),
    showApprovalHandling: async (target, approval, by) =>
      of(target).showApprovalHandling?.(target, approval, by),
    showApprovalDecided: async (target, approval, outcome) =>
      of(target).showApprovalDecided?.(target, approval, outcome),
    showEscalationResolved: async (target, runId, resolution) =>
      of(target).showEscalationResolved?.(target, runId, resolution),
  };
}
