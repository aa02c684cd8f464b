/** CWL runtime values: JSON, where File and Directory are objects with a `class` field. */
export type CwlValue = null | boolean | number | string | CwlValue[] | CwlObject;
export interface CwlObject {
  [key: string]: CwlValue;
}
