/**
 * The format ontology a document names in `$schemas` (OWL as RDF/XML, or Turtle), reduced to
 * what format checking needs: for each class IRI, the classes it is a subclass of or
 * equivalent to. Only `rdfs:subClassOf` / `owl:equivalentClass` statements with a plain IRI
 * object are read; restrictions and everything else are ignored.
 */
import type { FormatGraph } from './model.js';

export function parseOntology(text: string, into: Map<string, string[]>): void {
  if (text.trimStart().startsWith('<')) parseRdfXml(text, into);
  else parseTurtle(text, into);
}

function link(graph: Map<string, string[]>, from: string, to: string): void {
  const edges = graph.get(from) ?? [];
  edges.push(to);
  graph.set(from, edges);
}

function parseRdfXml(text: string, graph: Map<string, string[]>): void {
  const classes = /<owl:Class rdf:about="([^"]+)">([\s\S]*?)<\/owl:Class>/g;
  for (const [, about, body] of text.matchAll(classes)) {
    for (const [, kind, target] of body.matchAll(/<(rdfs:subClassOf|owl:equivalentClass) rdf:resource="([^"]+)"\s*\/>/g)) {
      link(graph, about, target);
      if (kind === 'owl:equivalentClass') link(graph, target, about);
    }
  }
}

function parseTurtle(text: string, graph: Map<string, string[]>): void {
  const prefixes = new Map<string, string>();
  const iri = (term: string): string => {
    if (term.startsWith('<') && term.endsWith('>')) return term.slice(1, -1);
    const colon = term.indexOf(':');
    return (prefixes.get(term.slice(0, colon)) ?? `${term.slice(0, colon)}:`) + term.slice(colon + 1);
  };
  for (const statement of text.split(/\s\.\s*(?:\n|$)/)) {
    const terms = statement.trim().split(/\s+/);
    if (terms[0] === '@prefix' && terms.length >= 3) prefixes.set(terms[1].replace(/:$/, ''), iri(terms[2]));
    else if (terms.length === 3 && (terms[1] === 'rdfs:subClassOf' || terms[1] === 'owl:equivalentClass')) {
      link(graph, iri(terms[0]), iri(terms[2]));
      if (terms[1] === 'owl:equivalentClass') link(graph, iri(terms[2]), iri(terms[0]));
    }
  }
}

/** True when `actual` is `wanted`, or a subclass of / equivalent to it (transitively). */
export function formatMatches(actual: string, wanted: string, graph: FormatGraph): boolean {
  const seen = new Set<string>();
  const queue = [actual];
  while (queue.length > 0) {
    const format = queue.pop() ?? '';
    if (format === wanted) return true;
    if (seen.has(format)) continue;
    seen.add(format);
    queue.push(...(graph.get(format) ?? []));
  }
  return false;
}
