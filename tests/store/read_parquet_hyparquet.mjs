// Prints every row of a Parquet file as one JSON line, read by hyparquet (not DuckDB):
// proof that the archive is plain Parquet that other engines read with the same values.
// Usage: node read_parquet_hyparquet.mjs NODE_MODULES_DIR FILE.parquet
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';

const [modules, file] = process.argv.slice(2);
const hp = await import(pathToFileURL(join(modules, 'hyparquet', 'src', 'node.js')));
const { compressors } = await import(pathToFileURL(join(modules, 'hyparquet-compressors', 'src', 'index.js')));
const rows = await hp.parquetReadObjects({ file: await hp.asyncBufferFromFile(file), compressors });
for (const row of rows) {
  const out = {};
  for (const [k, v] of Object.entries(row)) {
    if (v instanceof Date) out[k] = v.toISOString();
    else if (typeof v === 'bigint') out[k] = v.toString();
    else if (v !== null && typeof v === 'object') out[k] = JSON.stringify(v);
    else out[k] = v;
  }
  console.log(JSON.stringify(out));
}
