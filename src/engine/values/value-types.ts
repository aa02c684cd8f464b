/**
 * Runtime type checks of CWL values against declared types, as used for union dispatch,
 * input validation and output checking. `problemsOf` explains a mismatch by location.
 */
import type { CwlObject, CwlValue } from './cwl-value.js';
import type { CwlType } from '../cwl/model.js';
import { stringifyJson } from '../../exact-json.js';

export type FileLike = CwlObject & { class: 'File' | 'Directory' };

export function isFileLike(v: CwlValue | undefined): v is FileLike {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && (v.class === 'File' || v.class === 'Directory');
}

export function isObject(v: CwlValue | undefined): v is CwlObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function isOptional(type: CwlType): boolean {
  return type === 'null' || type === 'Any' || (Array.isArray(type) && type.some(isOptional));
}

export function matchesType(value: CwlValue, type: CwlType): boolean {
  return problemsOf(value, type, '').length === 0;
}

/** The member of a union (or the type itself) the value matches first. */
export function matchingMember(value: CwlValue, type: CwlType): CwlType | undefined {
  if (Array.isArray(type)) return type.find((t) => matchesType(value, t));
  return matchesType(value, type) ? type : undefined;
}

export function describeType(type: CwlType): string {
  if (typeof type === 'string') return type;
  if (Array.isArray(type)) return type.map(describeType).join(' | ');
  if (type.type === 'array') return `${describeType(type.items)}[]`;
  return type.name !== undefined && !type.name.startsWith('_') ? `${type.type} ${type.name.slice(type.name.lastIndexOf('#') + 1)}` : type.type;
}

export function problemsOf(value: CwlValue, type: CwlType, where: string): string[] {
  if (Array.isArray(type)) {
    if (type.some((t) => problemsOf(value, t, where).length === 0)) return [];
    return [`${where}: expected ${describeType(type)}, got ${preview(value)}`];
  }
  // Built only when needed: a preview serialises the value, and a 100,000-element output checks
  // every element.
  const mismatch = (): string[] => [`${where}: expected ${describeType(type)}, got ${preview(value)}`];
  if (typeof type === 'string') {
    switch (type) {
      case 'null':
        return value === null ? [] : mismatch();
      case 'Any':
        return value === null ? mismatch() : [];
      case 'boolean':
        return typeof value === 'boolean' ? [] : mismatch();
      case 'int':
      case 'long':
        return (typeof value === 'number' && Number.isInteger(value)) || typeof value === 'bigint' ? [] : mismatch();
      case 'float':
      case 'double':
        return typeof value === 'number' || typeof value === 'bigint' ? [] : mismatch();
      case 'string':
        return typeof value === 'string' ? [] : mismatch();
      case 'File':
      case 'Directory':
        return isObject(value) && value.class === type ? [] : mismatch();
      default:
        return [`${where}: unknown type ${type}`];
    }
  }
  if (type.type === 'enum') {
    return typeof value === 'string' && type.symbols.includes(value) ? [] : mismatch();
  }
  if (type.type === 'array') {
    if (!Array.isArray(value)) return mismatch();
    return value.flatMap((v, i) => problemsOf(v, type.items, `${where}[${i}]`));
  }
  if (!isObject(value) || isFileLike(value)) return mismatch();
  return type.fields.flatMap((f) => problemsOf(value[f.name] ?? null, f.type, `${where}.${f.name}`));
}

function preview(value: CwlValue): string {
  const text = stringifyJson(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
