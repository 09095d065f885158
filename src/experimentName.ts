// The name New Experiment asks for: which names make a file every OS accepts, and the file a name becomes.
// No vscode import, so node's unit tests check the rules the input box applies.

export const EXPERIMENT_SUFFIX = '.ladder.json';

/** What the user typed without surrounding spaces or a typed suffix ("trial.ladder.json" and "trial" are one name). */
function baseName(name: string): string {
  return name.trim().replace(/\.ladder\.json$/i, '');
}

/** The experiment file for a name: "sst2 trial" → "sst2 trial.ladder.json" (a typed suffix is not doubled). */
export function experimentFileName(name: string): string {
  return `${baseName(name)}${EXPERIMENT_SUFFIX}`;
}

// Windows is the strictest file system the extension runs on; a name it accepts works everywhere.
// eslint-disable-next-line no-control-regex -- control characters are exactly what a file name cannot hold
const FORBIDDEN = /[<>:"/\\|?*\u0000-\u001f]/;
const RESERVED = /^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$/i;

/** Why `name` cannot name an experiment file, or undefined when it can. */
export function experimentNameProblem(name: string): string | undefined {
  const base = baseName(name);
  if (base === '') return 'Type a name for the experiment, e.g. sst2-lst-vs-lora.';
  if (/[/\\]/.test(base)) return 'A name, not a path: no / or \\ (the file goes into the workspace folder).';
  const bad = FORBIDDEN.exec(base);
  if (bad) return `A file name cannot hold ${JSON.stringify(bad[0])}; use letters, digits, spaces, - or _.`;
  if (base.startsWith('.')) return 'A name starting with a dot makes a hidden file; start with a letter or digit.';
  if (/[. ]$/.test(base)) return 'A name cannot end with a dot or a space (Windows drops them).';
  if (RESERVED.test(base)) return `"${base}" is a reserved device name on Windows; choose another name.`;
  if (experimentFileName(base).length > 200) return 'That name is too long; keep it under 180 characters.';
  return undefined;
}

/** The first of "experiment", "experiment-2", … that names no existing file: the input box's suggestion. */
export function freeExperimentName(exists: (fileName: string) => boolean): string {
  let name = 'experiment';
  for (let i = 2; exists(experimentFileName(name)); i++) name = `experiment-${i}`;
  return name;
}
