/** CWL runtime values: JSON, where File and Directory are objects with a `class` field; integers beyond 2^53 are bigint (src/exact-json.ts). */
export type CwlValue = null | boolean | number | bigint | string | CwlValue[] | CwlObject;
export interface CwlObject {
  [key: string]: CwlValue;
}
