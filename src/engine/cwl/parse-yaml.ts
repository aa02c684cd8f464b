/**
 * YAML parsing for CWL documents and job files. Many CWL files (including the conformance
 * suite) were written for PyYAML, which accepts flow collections whose continuation lines
 * are not indented past their parent key; the `yaml` package rejects them. When strict
 * parsing fails we indent such continuation lines and parse again.
 */
import YAML, { type ScalarTag, type Tags } from 'yaml';

export function parseYaml(text: string): unknown {
  const doc = YAML.parseDocument(text, { uniqueKeys: false, customTags: exactIntegers });
  if (doc.errors.length === 0) return doc.toJS({ maxAliasCount: -1 });
  const relaxed = YAML.parseDocument(indentFlowContinuations(text), { uniqueKeys: false, customTags: exactIntegers });
  if (relaxed.errors.length === 0) return relaxed.toJS({ maxAliasCount: -1 });
  throw doc.errors[0];
}

/** Decimal integers beyond 2^53 are read as bigint, so they keep every digit (src/exact-json.ts). */
function exactIntegers(tags: Tags): Tags {
  const resolve = (source: string): number | bigint => (Number.isSafeInteger(Number(source)) ? Number(source) : BigInt(source));
  return tags.map((tag) =>
    typeof tag === 'object' && tag.tag === 'tag:yaml.org,2002:int' && !('collection' in tag) && tag.format === undefined
      ? ({ ...tag, resolve } satisfies ScalarTag)
      : tag,
  );
}

/** Lines that start while a `[`/`{` opened on an earlier line is still open get extra indent. */
function indentFlowContinuations(text: string): string {
  let depth = 0;
  let quote: string | undefined;
  const out: string[] = [];
  for (const line of text.split('\n')) {
    out.push(depth > 0 ? `          ${line}` : line);
    for (let i = 0; i < line.length; i++) {
      const c = line[i];
      if (quote !== undefined) {
        if (c === '\\' && quote === '"') i++;
        else if (c === quote) quote = undefined;
      } else if ((c === '"' || c === "'") && depth > 0) {
        quote = c;
      } else if (c === '#' && (i === 0 || line[i - 1] === ' ')) {
        break;
      } else if (c === '[' || c === '{') {
        depth++;
      } else if ((c === ']' || c === '}') && depth > 0) {
        depth--;
      }
    }
  }
  return out.join('\n');
}
