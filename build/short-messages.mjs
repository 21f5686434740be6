// A rollup output plugin for the production build: every `new SluiceError(code, message, …)` gets a short message
// in place of its long one, so an app's bundle does not carry the prose. What stays is what a log needs to be
// matched and searched: the code, a few words for it, and the name the long message quotes in backticks (an option,
// a task field), e.g. "ERR_INVALID_OPTION: invalid option `leaseMs`". The long message's arguments go with it, and
// with them helpers such as `describe` that only messages used. `code` and `cause` are untouched.
import MagicString from 'magic-string';
import { walk } from 'estree-walker';

/** A few words per code. The build fails on a code missing here, so a new code cannot ship without one. */
const SHORT = {
  ERR_INVALID_NAME: 'invalid name',
  ERR_INVALID_OPTION: 'invalid option',
  ERR_INVALID_TASK: 'invalid task',
  ERR_NOT_SERIALIZABLE: 'not serializable',
  ERR_ITEM_TOO_LARGE: 'item too large',
  ERR_QUOTA_EXCEEDED: 'storage full',
  ERR_CLOSED: 'closed',
  ERR_LOCKED: 'locked',
  ERR_CORRUPT: 'corrupt data',
  ERR_LEASE_EXPIRED: 'lease expired',
  ERR_INCOMPATIBLE_STORE: 'incompatible store',
  ERR_STORAGE: 'storage failed',
  ERR_NOT_FOUND: 'not found',
  ERR_CORS: 'refused by CORS',
};

export function shortMessages() {
  return {
    name: 'short-messages',
    renderChunk(code, chunk) {
      if (!code.includes('new SluiceError(')) return null;
      const s = new MagicString(code);
      walk(this.parse(code), {
        enter: (node) => {
          if (node.type !== 'NewExpression' || node.callee.type !== 'Identifier' || node.callee.name !== 'SluiceError') return;
          const [codeArg, message] = node.arguments;
          if (!message) return;
          const replacement = short(codeArg, message, code, chunk.fileName);
          s.overwrite(message.start, message.end, replacement);
        },
      });
      return { code: s.toString(), map: s.generateMap({ hires: true }) };
    },
  };
}

/** The short message's source: a string, or a template when the code or the quoted name is known only at run time. */
function short(codeArg, message, source, file) {
  const words = (literal) => {
    if (!(literal in SHORT)) throw new Error(`${file}: SluiceError code ${literal} has no words in build/short-messages.mjs`);
    return `${literal}: ${SHORT[literal]}`;
  };
  // A code chosen at run time (`full ? 'ERR_QUOTA_EXCEEDED' : 'ERR_STORAGE'`) is evaluated again; only a choice
  // between literals is, so that evaluating it twice changes nothing.
  let head;
  if (codeArg.type === 'Literal') head = escape(words(codeArg.value));
  else if (codeArg.type === 'ConditionalExpression' && codeArg.consequent.type === 'Literal' && codeArg.alternate.type === 'Literal') {
    const test = source.slice(codeArg.test.start, codeArg.test.end);
    head = `\${${test} ? ${JSON.stringify(words(codeArg.consequent.value))} : ${JSON.stringify(words(codeArg.alternate.value))}}`;
  } else {
    throw new Error(`${file}: SluiceError's code must be a literal or a choice between literals, at ${codeArg.start}`);
  }
  const name = quoted(message, source);
  return `\`${head}${name === undefined ? '' : ` \\\`${name}\\\``}\``;
}

/** The first name the message puts in backticks, as template source: static text, or `${expression}`. */
function quoted(message, source) {
  const parts = message.type === 'BinaryExpression' ? leftmost(message) : message;
  if (parts.type === 'Literal' && typeof parts.value === 'string') {
    const match = /`([^`]+)`/.exec(parts.value);
    return match ? escape(match[1]) : undefined;
  }
  if (parts.type !== 'TemplateLiteral') return undefined;
  const { quasis, expressions } = parts;
  for (let i = 0; i < quasis.length; i++) {
    const text = quasis[i].value.cooked;
    const match = /`([^`$]*)`/.exec(text);
    if (match && match[1]) return escape(match[1]);
    if (!text.includes('`')) continue;
    // What runs from this backtick to the next, through expressions: "`${option}`", "`${prefix}${key}`",
    // "`await ${type}.open(options)`".
    let name = escape(text.slice(text.lastIndexOf('`') + 1));
    for (let j = i; j < expressions.length; j++) {
      name += `\${${source.slice(expressions[j].start, expressions[j].end)}}`;
      const after = quasis[j + 1].value.cooked;
      if (after.includes('`')) return name + escape(after.slice(0, after.indexOf('`')));
      name += escape(after);
    }
    return undefined;
  }
  return undefined;
}

/** A message built with `+`: its first operand. */
function leftmost(node) {
  return node.type === 'BinaryExpression' ? leftmost(node.left) : node;
}

/** Text made safe inside a template literal. */
function escape(text) {
  return text.replace(/[`\\$]/g, (c) => `\\${c}`);
}
