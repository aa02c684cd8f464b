// Submitting a run: files or a folder (sub-directories kept through webkitRelativePath), the
// workflow among them, workflow_params as JSON checked while typing, tags; the server's 400 is
// shown next to the field it names.
import { postForm, runPath } from './api.js';
import { h, show } from './dom.js';

const FIELDS = ['workflow_url', 'workflow_params', 'tags', 'workflow_engine_parameters', 'workflow_attachment'];

/** A picked file's attachment name: its path inside the picked folder (the folder's own name dropped). */
function attachmentName(file) {
  const relative = file.webkitRelativePath;
  return relative ? relative.split('/').slice(1).join('/') : file.name;
}

function parseObject(text, name) {
  if (text.trim() === '') return {};
  let value;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new Error(`${name} is not valid JSON: ${error.message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`${name} must be a JSON object`);
  return value;
}

function parseTags(text) {
  const tags = {};
  for (const line of text.split('\n').map((l) => l.trim()).filter(Boolean)) {
    const at = line.indexOf('=');
    if (at <= 0) throw new Error(`tag "${line}" must be name=value`);
    tags[line.slice(0, at)] = line.slice(at + 1);
  }
  return tags;
}

export async function submitView() {
  const errors = Object.fromEntries(FIELDS.map((f) => [f, h('p.error', { id: `${f}-error`, role: 'alert' })]));
  const files = h('input', { id: 'files', type: 'file', multiple: true, 'aria-describedby': 'picked-files workflow_attachment-error' });
  const folder = h('input', { id: 'folder', type: 'file', webkitdirectory: true, 'aria-describedby': 'picked-files workflow_attachment-error' });
  const workflow = h('select', { id: 'workflow_url', name: 'workflow_url', required: true, 'aria-describedby': 'workflow_url-error' });
  const params = h('textarea', { id: 'workflow_params', rows: 8, spellcheck: 'false', 'aria-describedby': 'workflow_params-error' }, '{}');
  const tags = h('textarea', { id: 'tags', rows: 2, placeholder: 'project=demo', 'aria-describedby': 'tags-error' });
  const engine = h('textarea', { id: 'workflow_engine_parameters', rows: 2, placeholder: '{"max_jobs": "4"}', 'aria-describedby': 'workflow_engine_parameters-error' });
  const general = h('p.error', { role: 'alert' });
  const pickedList = h('p.hint', { id: 'picked-files', 'aria-live': 'polite' });
  const picked = new Map();

  function refreshWorkflows() {
    const names = [...picked.keys()].sort();
    const cwl = names.filter((n) => /\.(cwl|ya?ml|json)$/.test(n));
    workflow.replaceChildren(...cwl.map((n) => h('option', { value: n }, n)));
    pickedList.textContent = names.length === 0 ? '' : `${names.length} file(s): ${names.slice(0, 8).join(', ')}${names.length > 8 ? '…' : ''}`;
  }
  for (const input of [files, folder]) {
    input.addEventListener('change', () => {
      for (const file of input.files) picked.set(attachmentName(file), file);
      refreshWorkflows();
    });
  }
  const checkJson = (area, name) => () => {
    try {
      parseObject(area.value, name);
      errors[name].textContent = '';
      area.removeAttribute('aria-invalid');
    } catch (error) {
      errors[name].textContent = error.message;
      area.setAttribute('aria-invalid', 'true');
    }
  };
  params.addEventListener('input', checkJson(params, 'workflow_params'));
  engine.addEventListener('input', checkJson(engine, 'workflow_engine_parameters'));

  const form = h(
    'form.card.submit',
    {
      onsubmit: async (event) => {
        event.preventDefault();
        for (const e of [...Object.values(errors), general]) e.textContent = '';
        let body;
        try {
          body = new FormData();
          body.append('workflow_type', 'CWL');
          body.append('workflow_type_version', 'v1.2');
          if (!workflow.value) throw Object.assign(new Error('pick the workflow files first'), { field: 'workflow_url' });
          body.append('workflow_url', workflow.value);
          body.append('workflow_params', JSON.stringify(parseObject(params.value, 'workflow_params')));
          body.append('tags', JSON.stringify(parseTags(tags.value)));
          if (engine.value.trim()) body.append('workflow_engine_parameters', JSON.stringify(parseObject(engine.value, 'workflow_engine_parameters')));
          for (const [name, file] of picked) body.append('workflow_attachment', file, name);
        } catch (error) {
          const field = error.field ?? FIELDS.find((f) => error.message.startsWith(f)) ?? 'tags';
          errors[field].textContent = error.message;
          return;
        }
        try {
          const { run_id: runId } = await postForm('/runs', body);
          location.hash = `#${runPath(runId)}`;
        } catch (error) {
          // The server names the field its 400 is about; show the message there.
          const field = FIELDS.find((f) => error.message.includes(f)) ?? (error.message.startsWith('invalid workflow') ? 'workflow_params' : undefined);
          (field ? errors[field] : general).textContent = error.message;
          (field ? document.getElementById(field === 'workflow_attachment' ? 'files' : field) : general)?.focus();
        }
      },
    },
    h('h1', {}, 'Submit a run'),
    h('fieldset', {}, h('legend', {}, 'Workflow files'),
      h('label', { for: 'files' }, 'Files'), files,
      h('label', { for: 'folder' }, 'or a folder (sub-folders are kept)'), folder,
      pickedList, errors.workflow_attachment,
      h('label', { for: 'workflow_url' }, 'Workflow to run'), workflow, errors.workflow_url),
    h('label', { for: 'workflow_params' }, 'Inputs (workflow_params, JSON)'), params, errors.workflow_params,
    h('label', { for: 'tags' }, 'Tags (one name=value per line)'), tags, errors.tags,
    h('label', { for: 'workflow_engine_parameters' }, 'Engine parameters (JSON, optional)'), engine, errors.workflow_engine_parameters,
    general,
    h('button', { type: 'submit' }, 'Submit'),
  );
  show(form);
}
