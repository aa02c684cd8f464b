/**
 * Requirements and hints in effect for a process: its own, then those of the step that runs
 * it, then those inherited from enclosing workflows. A requirement beats any hint of the
 * same class; nearer beats farther.
 */
import type { Process, Requirement, WorkflowStep } from './model.js';

export interface RequirementScope {
  /** `cwl:requirements` of the input object: they beat everything in the documents. */
  readonly overrides: readonly Requirement[];
  readonly requirements: readonly Requirement[];
  readonly hints: readonly Requirement[];
}

export function rootScope(overrides: readonly Requirement[]): RequirementScope {
  return { overrides, requirements: [], hints: [] };
}

export function scopeFor(process: Process, step: WorkflowStep | undefined, parent: RequirementScope): RequirementScope {
  return {
    overrides: parent.overrides,
    requirements: [...process.requirements, ...(step?.requirements ?? []), ...parent.requirements],
    hints: [...process.hints, ...(step?.hints ?? []), ...parent.hints],
  };
}

export function findRequirement(scope: RequirementScope, cls: string): Requirement | undefined {
  const byClass = (r: Requirement): boolean => r.class === cls;
  return scope.overrides.find(byClass) ?? scope.requirements.find(byClass) ?? scope.hints.find(byClass);
}

export function isHardRequirement(scope: RequirementScope, cls: string): boolean {
  return scope.overrides.some((r) => r.class === cls) || scope.requirements.some((r) => r.class === cls);
}
