// The tools of a `tools/list` answer as text for a person: each tool's name, title and the first
// line of its description, then every argument with its type (read from the JSON Schema, `$ref`s
// resolved), whether it is required, and its description. Schema keywords it has no words for
// are printed as JSON beside the type, so nothing in a schema is left out.

const WIDTH = 100;

/** Keywords that say nothing about the type, or that the caller prints itself. */
const NOT_TYPE = new Set(['description', 'title', '$schema', '$id', '$comment', '$defs', 'definitions']);

/** Keywords `typeText` puts into words. */
const WORDED = new Set([
  'type', '$ref', 'const', 'enum', 'oneOf', 'anyOf', 'allOf', 'items', 'properties', 'required',
  'additionalProperties', 'minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum',
  'minLength', 'maxLength', 'pattern', 'format', 'minItems', 'maxItems', 'uniqueItems',
  'default', 'examples', 'nullable', 'deprecated',
]);

/**
 * `text` wrapped at WIDTH columns: the first line starts with `indent`, the others with
 * `hanging` (default `indent`); blank lines part paragraphs.
 */
function wrap(text, indent, hanging = indent) {
  const lines = [];
  for (const paragraph of String(text).split(/\n\s*\n/)) {
    let line = '';
    const lead = () => (lines.length === 0 ? indent : hanging);
    for (const word of paragraph.split(/\s+/).filter(Boolean)) {
      if (line && lead().length + line.length + 1 + word.length > WIDTH) {
        lines.push(lead() + line);
        line = word;
      } else {
        line = line ? `${line} ${word}` : word;
      }
    }
    if (line) lines.push(lead() + line);
  }
  return lines;
}

/** The schema a local `$ref` (`#/$defs/X`, any JSON pointer into the root) points at. */
function dereference(ref, root) {
  if (!ref.startsWith('#')) return undefined;
  let node = root;
  for (const raw of ref.slice(1).split('/').filter(Boolean)) {
    const key = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
    node = node?.[key];
  }
  return node;
}

const json = (value) => JSON.stringify(value);

/** The type a JSON Schema describes, in words: `string or null`, `array of integer ≥ 0`, ... */
function typeText(schema, root, depth = 0) {
  if (schema === undefined || schema === true) return 'any JSON value';
  if (schema === false) return 'nothing (always refused)';
  if (typeof schema !== 'object' || schema === null) return `schema ${json(schema)}`;
  if (depth > 8) return 'a schema nested too deep to show';
  let s = schema;
  if (typeof s.$ref === 'string') {
    const target = dereference(s.$ref, root);
    if (target === undefined) return `unresolved reference ${s.$ref}`;
    const { $ref, ...rest } = s;
    if (typeof target !== 'object' || target === null) return typeText(target, root, depth + 1);
    s = { ...target, ...rest };
  }

  let text;
  if ('const' in s) {
    text = json(s.const);
  } else if (Array.isArray(s.enum)) {
    text = `one of ${s.enum.map(json).join(', ')}`;
  } else if (Array.isArray(s.oneOf) || Array.isArray(s.anyOf)) {
    text = alternatives(s.oneOf ?? s.anyOf, root, depth);
    if (Array.isArray(s.oneOf) && Array.isArray(s.anyOf)) {
      text = `(${text}) and (${alternatives(s.anyOf, root, depth)})`;
    }
  } else {
    text = basicTypes(s, root, depth);
  }
  if (Array.isArray(s.allOf)) {
    const all = s.allOf.map((part) => typeText(part, root, depth + 1));
    text = text === 'any JSON value' ? all.join(' and ') : [text, ...all].join(' and ');
  }

  const notes = [];
  if (s.nullable === true) notes.push('or null');
  if ('default' in s) notes.push(`default ${json(s.default)}`);
  if (Array.isArray(s.examples) && s.examples.length > 0) {
    notes.push(`e.g. ${s.examples.map(json).join(', ')}`);
  }
  if (s.deprecated === true) notes.push('deprecated');
  const unworded = Object.fromEntries(
    Object.entries(s).filter(([k]) => !WORDED.has(k) && !NOT_TYPE.has(k)),
  );
  if (Object.keys(unworded).length > 0) notes.push(`also ${json(unworded)}`);
  return notes.length > 0 ? `${text}, ${notes.join(', ')}` : text;
}

/** `oneOf`/`anyOf` alternatives: a list of constants with their descriptions, or types joined by "or". */
function alternatives(options, root, depth) {
  const resolved = options.map((o) =>
    o && typeof o === 'object' && typeof o.$ref === 'string' ? { ...dereference(o.$ref, root), ...o } : o,
  );
  const constants = resolved.every((o) => o && typeof o === 'object' && 'const' in o);
  if (constants) {
    const described = resolved.map((o) =>
      o.description ? `${json(o.const)} (${o.description.trim()})` : json(o.const),
    );
    return `one of ${described.join(', ')}`;
  }
  return options.map((o) => typeText(o, root, depth + 1)).join(' or ');
}

/** `type` (one or several), with the bounds, formats and shapes that go with each. */
function basicTypes(s, root, depth) {
  let types = Array.isArray(s.type) ? s.type : s.type === undefined ? [] : [s.type];
  if (types.length === 0) {
    if (s.properties || s.additionalProperties !== undefined) types = ['object'];
    else if (s.items) types = ['array'];
    else if (s.minimum !== undefined || s.maximum !== undefined) types = ['number'];
    else if (s.pattern !== undefined || s.minLength !== undefined) types = ['string'];
    else return 'any JSON value';
  }
  return types.map((type) => oneType(type, s, root, depth)).join(' or ');
}

/** `count` `noun`s, `s` added unless the count is 1. */
const counted = (count, noun) => `${count} ${noun}${count === 1 ? '' : 's'}`;

function oneType(type, s, root, depth) {
  const bounds = [];
  switch (type) {
    case 'integer':
    case 'number': {
      const limits = [];
      if (s.minimum !== undefined) limits.push(`≥ ${s.minimum}`);
      if (s.exclusiveMinimum !== undefined) limits.push(`> ${s.exclusiveMinimum}`);
      if (s.maximum !== undefined) limits.push(`≤ ${s.maximum}`);
      if (s.exclusiveMaximum !== undefined) limits.push(`< ${s.exclusiveMaximum}`);
      if (limits.length > 0) bounds.push(limits.join(' and '));
      if (s.format) bounds.push(`(${s.format})`);
      break;
    }
    case 'string':
      if (s.format) bounds.push(`(${s.format})`);
      if (s.minLength !== undefined) bounds.push(`of at least ${counted(s.minLength, 'character')}`);
      if (s.maxLength !== undefined) bounds.push(`of at most ${counted(s.maxLength, 'character')}`);
      if (s.pattern !== undefined) bounds.push(`matching /${s.pattern}/`);
      break;
    case 'array': {
      const of = s.items === undefined ? '' : ` of ${typeText(s.items, root, depth + 1)}`;
      if (s.minItems !== undefined) bounds.push(`at least ${counted(s.minItems, 'item')}`);
      if (s.maxItems !== undefined) bounds.push(`at most ${counted(s.maxItems, 'item')}`);
      if (s.uniqueItems === true) bounds.push('no duplicates');
      return [`array${of}`, ...bounds].join(', ');
    }
    case 'object': {
      const required = new Set(s.required ?? []);
      const fields = Object.entries(s.properties ?? {}).map(
        ([name, field]) => `${name}${required.has(name) ? '' : '?'}: ${typeText(field, root, depth + 1)}`,
      );
      let text = fields.length > 0 ? `object {${fields.join('; ')}}` : 'object';
      if (s.additionalProperties === false) text += ', no other keys';
      else if (s.additionalProperties && typeof s.additionalProperties === 'object') {
        text += `, other keys: ${typeText(s.additionalProperties, root, depth + 1)}`;
      }
      return text;
    }
    default:
      break;
  }
  return [type, ...bounds].join(' ');
}

/** The arguments of a tool's input schema, one block per argument. */
function argumentLines(schema) {
  const root = schema ?? {};
  const properties = Object.entries(root.properties ?? {});
  const required = new Set(root.required ?? []);
  const lines = [];
  if (properties.length === 0) {
    lines.push('  arguments: none');
  } else {
    lines.push('  arguments:');
    for (const [name, property] of properties) {
      const marker = required.has(name) ? 'required' : 'optional';
      lines.push(...wrap(`${name} (${marker}): ${typeText(property, root)}`, '    ', '      '));
      if (property && typeof property === 'object' && property.description) {
        lines.push(...wrap(property.description, '        '));
      }
    }
  }
  // Requirements on the arguments object itself (other than its properties).
  const { properties: _p, required: _r, type, ...rest } = root;
  const extra = Object.fromEntries(Object.entries(rest).filter(([k]) => !NOT_TYPE.has(k)));
  if (extra.additionalProperties === false) {
    lines.push('    (no other arguments)');
    delete extra.additionalProperties;
  }
  if (type !== undefined && type !== 'object') extra.type = type;
  if (Object.keys(extra).length > 0) lines.push(...wrap(`(also: ${json(extra)})`, '    '));
  return lines;
}

/** The listing of `tools` (the `tools` array of a `tools/list` result), ending in a newline. */
export function renderTools(tools) {
  const blocks = tools.map((tool) => {
    const title = tool.title ?? tool.annotations?.title;
    const lines = [title && title !== tool.name ? `${tool.name} — ${title}` : tool.name];
    const firstLine = (tool.description ?? '').split('\n')[0].trim();
    if (firstLine) lines.push(...wrap(firstLine, '  '));
    lines.push(...argumentLines(tool.inputSchema));
    return lines.join('\n');
  });
  return `${blocks.join('\n\n')}\n`;
}
