/** Builds a real multipart/form-data body (as a browser or the WES client would send it). */
export interface FormFile {
  readonly name: string;
  readonly content: string;
  readonly field?: string;
}

export async function multipartBody(
  fields: Record<string, string>,
  files: readonly FormFile[] = [],
): Promise<{ payload: Buffer; headers: Record<string, string> }> {
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) form.append(name, value);
  for (const file of files) form.append(file.field ?? 'workflow_attachment', new Blob([file.content]), file.name);
  const response = new Response(form);
  return {
    payload: Buffer.from(await response.arrayBuffer()),
    headers: { 'content-type': response.headers.get('content-type') ?? '' },
  };
}

export const ECHO_TOOL = `cwlVersion: v1.2
class: CommandLineTool
baseCommand: echo
inputs:
  message:
    type: string
    inputBinding: {position: 1}
outputs:
  out:
    type: stdout
stdout: out.txt
`;

export function runFields(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    workflow_type: 'CWL',
    workflow_type_version: 'v1.2',
    workflow_url: 'echo.cwl',
    workflow_params: JSON.stringify({ message: 'hello' }),
    tags: JSON.stringify({ project: 'test' }),
    ...overrides,
  };
}
