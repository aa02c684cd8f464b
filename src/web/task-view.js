// One task: command, exit code, times, and its stdout/stderr followed (HTTP Range) while it runs.
// "log" as the task id shows the run's engine log instead.
import { FINAL, getJson, getText, runPath } from './api.js';
import { duration, h, show, stateBadge, time } from './dom.js';

const TAIL_MS = 1500;

function logPane(title, id) {
  const pre = h('pre.log', { id, tabindex: 0, 'aria-label': title });
  return { pre, section: h('section', {}, h('h2', {}, title), pre), size: 0 };
}

export async function taskView(runId, taskId) {
  const engineLog = taskId === 'log';
  const header = h('div');
  const panes = engineLog ? [logPane('Engine log', 'log-engine')] : [logPane('stdout', 'log-stdout'), logPane('stderr', 'log-stderr')];
  let timer;

  async function refresh() {
    const run = await getJson(runPath(runId, '/status'));
    const task = engineLog ? undefined : await getJson(runPath(runId, `/tasks/${encodeURIComponent(taskId)}`));
    const runLog = engineLog ? await getJson(runPath(runId)) : undefined;
    header.replaceChildren(
      h('p', {}, h('a', { href: `#${runPath(runId)}` }, '← Run'), ' ', stateBadge(run.state)),
      h('h1', {}, engineLog ? 'Engine log' : `Task ${taskId}`),
      task ? h('dl.facts', {},
        h('dt', {}, 'Name'), h('dd', {}, task.name),
        h('dt', {}, 'State'), h('dd', {}, h(`span.badge.task-${task.state}`, {}, task.state)),
        h('dt', {}, 'Command'), h('dd', {}, task.cmd ? h('code.command', {}, task.cmd.join(' ')) : '—'),
        h('dt', {}, 'Exit code'), h('dd', {}, task.exit_code ?? '—'),
        h('dt', {}, 'Started'), h('dd', {}, time(task.start_time)),
        h('dt', {}, 'Ended'), h('dd', {}, time(task.end_time)),
        h('dt', {}, 'Duration'), h('dd', {}, duration(task.start_time, task.end_time))) : null,
      (task?.system_logs ?? []).map((line) => h('p.error', {}, line)),
    );
    const urls = engineLog ? [runLog.run_log.stdout] : [task.stdout, task.stderr];
    for (const [i, pane] of panes.entries()) {
      if (!urls[i]) continue;
      const { text, size } = await getText(urls[i], pane.size);
      if (text) {
        const atBottom = pane.pre.scrollTop + pane.pre.clientHeight >= pane.pre.scrollHeight - 4;
        pane.pre.append(text);
        if (atBottom) pane.pre.scrollTop = pane.pre.scrollHeight;
      }
      pane.size = size;
    }
    const ended = FINAL.includes(run.state) || (task !== undefined && task.end_time !== undefined);
    if (ended) clearInterval(timer);
  }
  show(header, ...panes.map((p) => p.section));
  await refresh();
  timer = setInterval(() => refresh().catch(() => {}), TAIL_MS);
  return () => clearInterval(timer);
}
