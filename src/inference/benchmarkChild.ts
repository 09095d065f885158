// Child-process entry (bundled to dist/inferenceBenchmark.js): loads one export folder with onnxruntime-node,
// times repeated runs of one input, and prints one JSON object (InferenceFigures) on stdout. A process of its
// own, so its RSS before and after creating the session is the session's footprint and nothing else's.
//   node inferenceBenchmark.js EXPORT_DIR [RUNS]
import { measureInference } from './measure';

measureInference(process.argv[2], Number(process.argv[3] || 30)).then(
  (figures) => {
    process.stdout.write(JSON.stringify(figures) + '\n');
  },
  (e: unknown) => {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  },
);
