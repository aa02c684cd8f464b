/** CWL documents the end-to-end tests submit. */

/** Counts lines of an attached file, then reverses them: two steps, one File passed between them. */
export const LINES_WORKFLOW = `cwlVersion: v1.2
class: Workflow
inputs:
  text: File
outputs:
  count:
    type: File
    outputSource: count/out
  reversed:
    type: File
    outputSource: reverse/out
steps:
  count:
    run: tools/wc.cwl
    in: {file: text}
    out: [out]
  reverse:
    run:
      class: CommandLineTool
      baseCommand: tac
      inputs:
        file: {type: File, inputBinding: {position: 1}}
      outputs:
        out: {type: stdout}
      stdout: reversed.txt
    in: {file: text}
    out: [out]
`;

export const WC_TOOL = `cwlVersion: v1.2
class: CommandLineTool
baseCommand: [wc, -l]
stdin: $(inputs.file.path)
inputs:
  file: File
outputs:
  out: {type: stdout}
stdout: count.txt
`;

/** A tool that fails with exit code 3 after writing to stderr. */
export const FAILING_TOOL = `cwlVersion: v1.2
class: CommandLineTool
requirements: {ShellCommandRequirement: {}}
arguments: [{valueFrom: "echo about to fail >&2; exit 3", shellQuote: false}]
inputs: []
outputs: []
`;

/** Sleeps long, in a child shell: cancel must kill the whole process group. */
export const SLEEPING_TOOL = `cwlVersion: v1.2
class: CommandLineTool
requirements: {ShellCommandRequirement: {}}
inputs:
  marker: string
arguments: [{valueFrom: "sh -c 'sleep 1000 # $(inputs.marker)' & sleep 1001 # $(inputs.marker)\\nwait", shellQuote: false}]
outputs: []
`;

/**
 * Step "first" appends a line to a counter file (so a rerun would show); step "second" waits
 * until a gate file exists. A restart while "second" waits must not run "first" again.
 */
export const GATED_WORKFLOW = `cwlVersion: v1.2
class: Workflow
requirements: {ShellCommandRequirement: {}}
inputs:
  counter: string
  gate: string
outputs:
  result:
    type: File
    outputSource: second/out
steps:
  first:
    run:
      class: CommandLineTool
      requirements: {ShellCommandRequirement: {}}
      inputs: {counter: string}
      arguments: [{valueFrom: "echo ran >> $(inputs.counter); echo first", shellQuote: false}]
      outputs: {out: {type: stdout}}
      stdout: first.txt
    in: {counter: counter}
    out: [out]
  second:
    run:
      class: CommandLineTool
      requirements: {ShellCommandRequirement: {}}
      inputs: {previous: File, gate: string}
      arguments: [{valueFrom: "while [ ! -e $(inputs.gate) ]; do sleep 0.1; done; cat $(inputs.previous.path); echo second", shellQuote: false}]
      outputs: {out: {type: stdout}}
      stdout: second.txt
    in: {previous: first/out, gate: gate}
    out: [out]
`;

/** Scatters echo over a list of numbers. */
export const SCATTER_WORKFLOW = `cwlVersion: v1.2
class: Workflow
requirements: {ScatterFeatureRequirement: {}}
inputs:
  numbers: int[]
outputs:
  outs:
    type: File[]
    outputSource: echo/out
steps:
  echo:
    run:
      class: CommandLineTool
      baseCommand: echo
      inputs: {n: {type: int, inputBinding: {position: 1}}}
      outputs: {out: {type: stdout}}
    scatter: n
    in: {n: numbers}
    out: [out]
`;

/** SCATTER_WORKFLOW with its tool in a file of a sub-folder (attachments keep sub-folders), and that tool. */
export const SCATTER_WORKFLOW_TOOL_FILE = SCATTER_WORKFLOW.replace(/    run:\n(      .*\n)+/, '    run: tools/echo.cwl\n');
export const ECHO_NUMBER_TOOL = `cwlVersion: v1.2
class: CommandLineTool
baseCommand: echo
inputs: {n: {type: int, inputBinding: {position: 1}}}
outputs: {out: {type: stdout}}
stdout: number.txt
`;

/** A scattered subworkflow (inner tasks "1.e/m") and a step skipped by `when`. */
export const NESTED_WORKFLOW = `cwlVersion: v1.2
class: Workflow
requirements: {SubworkflowFeatureRequirement: {}, ScatterFeatureRequirement: {}, InlineJavascriptRequirement: {}}
inputs:
  words: string[]
outputs:
  outs:
    type: File[]
    outputSource: inner/out
  maybe:
    type: int?
    outputSource: maybe/o
steps:
  inner:
    scatter: w
    in: {w: words}
    out: [out]
    run:
      class: Workflow
      inputs: {w: string}
      outputs:
        out: {type: File, outputSource: say/out}
      steps:
        say:
          in: {w: w}
          out: [out]
          run:
            class: CommandLineTool
            baseCommand: echo
            inputs: {w: {type: string, inputBinding: {position: 1}}}
            outputs: {out: stdout}
  maybe:
    when: $(inputs.n > 5)
    in: {n: {default: 1}}
    out: [o]
    run:
      class: ExpressionTool
      inputs: {n: int}
      outputs: {o: int}
      expression: "$({o: inputs.n})"
`;

/** A scatter of `sh -c` over `scripts`, the tool inline. */
export const SH_SCATTER_WORKFLOW = `cwlVersion: v1.2
class: Workflow
requirements: {ScatterFeatureRequirement: {}}
inputs:
  scripts: string[]
outputs: []
steps:
  each:
    run:
      class: CommandLineTool
      baseCommand: [sh, -c]
      inputs: {script: {type: string, inputBinding: {position: 1}}}
      outputs: []
    scatter: script
    in: {script: scripts}
    out: []
`;
