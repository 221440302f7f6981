// Token counts for `cargo xtask bench compare`'s context table: what a tool answer costs the model.
//
// Reads one JSON array of strings on stdin and prints one JSON line,
// {"encoding": "o200k_base", "counts": [n, ...]}, a count per string in the same order.
// The vocabulary ships inside the pinned gpt-tokenizer package (package-lock.json beside this
// file), so counting needs no network. o200k_base is the encoding of GPT-4o, GPT-4.1 and GPT-5;
// other models' tokenizers differ, but the ratio between two answers moves far less than the counts.
import { countTokens } from 'gpt-tokenizer/encoding/o200k_base'

const chunks = []
for await (const chunk of process.stdin) chunks.push(chunk)
const texts = JSON.parse(Buffer.concat(chunks).toString('utf8'))
if (!Array.isArray(texts) || texts.some((text) => typeof text !== 'string')) {
  console.error('count_tokens.mjs: stdin must be a JSON array of strings')
  process.exit(2)
}
// An answer is data, not a prompt: `<|endoftext|>` inside it is counted as the plain text it is.
const plain = { disallowedSpecial: new Set() }
const counts = texts.map((text) => countTokens(text, plain))
console.log(JSON.stringify({ encoding: 'o200k_base', counts }))
