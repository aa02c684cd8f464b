import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatMatches, parseOntology } from '../../src/engine/cwl/format-ontology.js';

describe('format ontology', () => {
  const graph = new Map<string, string[]>();
  parseOntology(
    `<rdf:RDF>
    <owl:Class rdf:about="http://ex.org/fasta">
        <rdfs:subClassOf rdf:resource="http://ex.org/sequence"/>
        <rdfs:subClassOf><owl:Restriction><owl:onProperty rdf:resource="http://ex.org/p"/></owl:Restriction></rdfs:subClassOf>
    </owl:Class>
    <owl:Class rdf:about="http://ex.org/sequence">
        <rdfs:subClassOf rdf:resource="http://ex.org/text"/>
    </owl:Class>
</rdf:RDF>`,
    graph,
  );
  parseOntology('@prefix gx: <http://gx.org/> .\n@prefix ex: <http://ex.org/> .\ngx:fa owl:equivalentClass ex:fasta .\n', graph);

  it('matches a format, its superclasses transitively, and equivalent classes', () => {
    assert.ok(formatMatches('http://ex.org/fasta', 'http://ex.org/fasta', graph));
    assert.ok(formatMatches('http://ex.org/fasta', 'http://ex.org/text', graph));
    assert.ok(formatMatches('http://ex.org/fasta', 'http://gx.org/fa', graph));
    assert.ok(formatMatches('http://gx.org/fa', 'http://ex.org/sequence', graph));
  });

  it('does not match subclasses, unrelated formats, or restriction targets', () => {
    assert.ok(!formatMatches('http://ex.org/text', 'http://ex.org/fasta', graph));
    assert.ok(!formatMatches('http://ex.org/other', 'http://ex.org/text', graph));
    assert.ok(!formatMatches('http://ex.org/fasta', 'http://ex.org/p', graph));
  });
});
