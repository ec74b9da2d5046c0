#!/usr/bin/env node
// Attributes a wasm file's code bytes to crates, from its `name` section (build without stripping:
// `CARGO_PROFILE_WEB_RELEASE_STRIP=false` and wasm-bindgen `--keep-debug`). No dependencies.
//   node scripts/wasm-sizes.mjs path/to/file.wasm [top-N functions]
import { readFileSync } from 'node:fs';

const [file, topArg] = process.argv.slice(2);
if (!file) {
  console.error('usage: node scripts/wasm-sizes.mjs file.wasm [top-N]');
  process.exit(2);
}
const buf = readFileSync(file);
let pos = 8;
const u32 = () => {
  let result = 0;
  let shift = 0;
  for (;;) {
    const b = buf[pos++];
    result += (b & 0x7f) * 2 ** shift;
    if ((b & 0x80) === 0) return result;
    shift += 7;
  }
};
const sections = [];
while (pos < buf.length) {
  const id = buf[pos++];
  const size = u32();
  sections.push({ id, start: pos, size });
  pos += size;
}
let imported = 0;
const bodies = [];
const names = new Map();
let dataBytes = 0;
for (const s of sections) {
  pos = s.start;
  if (s.id === 2) {
    const n = u32();
    for (let i = 0; i < n; i++) {
      for (let k = 0; k < 2; k++) pos += u32();
      const kind = buf[pos++];
      if (kind === 0) {
        u32();
        imported++;
      } else if (kind === 1) {
        pos++;
        const flags = u32();
        u32();
        if (flags & 1) u32();
      } else if (kind === 2) {
        const flags = u32();
        u32();
        if (flags & 1) u32();
      } else if (kind === 3) pos += 2;
      else if (kind === 4) {
        pos++;
        u32();
      }
    }
  } else if (s.id === 10) {
    const n = u32();
    for (let i = 0; i < n; i++) {
      const size = u32();
      bodies.push(size);
      pos += size;
    }
  } else if (s.id === 11) {
    dataBytes = s.size;
  } else if (s.id === 0) {
    const nameLen = u32();
    const name = buf.subarray(pos, pos + nameLen).toString();
    pos += nameLen;
    if (name !== 'name') continue;
    const end = s.start + s.size;
    while (pos < end) {
      const sub = buf[pos++];
      const len = u32();
      const next = pos + len;
      if (sub === 1) {
        const n = u32();
        for (let i = 0; i < n; i++) {
          const idx = u32();
          const l = u32();
          names.set(idx, buf.subarray(pos, pos + l).toString());
          pos += l;
        }
      }
      pos = next;
    }
  }
}
const crateOf = (name) => {
  let n = name;
  if (n.startsWith('_ZN')) {
    // legacy mangling: _ZN <len><component>… — the first component names the crate, or is
    // `<Type as Trait>`, whose type's crate we take.
    const m = n.slice(3).match(/^(\d+)/);
    if (!m) return '(other)';
    n = n.slice(3 + m[1].length, 3 + m[1].length + Number(m[1]));
    n = n.replace(/\$LT\$/g, '<').replace(/\$GT\$/g, '>').replace(/\$RF\$/g, '&').replace(/\$u20\$/g, ' ').replace(/\.\./g, '::').replace(/\$u7b\$/g, '{');
    n = n.replace(/^_/, '').replace(/^<(impl )?/, '').replace(/^(&|mut |dyn |\[|\(|<)+/, '');
  } else if (n.startsWith('_R')) {
    const m = n.match(/C[sy]?[0-9A-Za-z]*_(\d+)([A-Za-z_][A-Za-z0-9_]*)/) ?? n.match(/C(\d+)([A-Za-z_][A-Za-z0-9_]*)/);
    if (m) return m[2].slice(0, Number(m[1]));
  }
  const m = n.match(/^([A-Za-z_][A-Za-z0-9_]*)/);
  return m ? m[1] : '(other)';
};
const byCrate = new Map();
let total = 0;
const fns = [];
bodies.forEach((size, i) => {
  const name = names.get(i + imported) ?? `func${i + imported}`;
  const crate = crateOf(name);
  byCrate.set(crate, (byCrate.get(crate) ?? 0) + size);
  total += size;
  fns.push([size, name]);
});
console.log(`file ${buf.length} B; code ${total} B in ${bodies.length} functions; data ${dataBytes} B`);
for (const [crate, size] of [...byCrate].sort((a, b) => b[1] - a[1]).slice(0, 40)) {
  console.log(`${String(size).padStart(9)}  ${((100 * size) / total).toFixed(1).padStart(5)} %  ${crate}`);
}
const top = Number(topArg ?? 0);
if (top > 0) {
  console.log(`\ntop ${top} functions:`);
  for (const [size, name] of fns.sort((a, b) => b[0] - a[0]).slice(0, top)) {
    console.log(`${String(size).padStart(9)}  ${name.slice(0, 160)}`);
  }
}
