'use strict';

// Shared plumbing of the ali-ons drivers: argument parsing (flags and/or one JSON object),
// one-JSON-object-per-line output on stdout, a hard deadline, and the deterministic message
// bodies that both the drivers and the Python tests can recompute. See ../README.md.

const crypto = require('crypto');
const util = require('util');

const EXIT_OK = 0;
const EXIT_FAILED = 1;
const EXIT_USAGE = 2;

// ali-ons prefixes re-emitted errors with this text (sometimes twice); drop it.
function errorText(err) {
  const text = err && err.message !== undefined ? err.message : String(err);
  return text.replace(/MQPushConsumer occurred an error ?/g, '');
}

function emit(event, fields) {
  process.stdout.write(JSON.stringify(Object.assign({ event, ts: Date.now() }, fields)) + '\n');
}

function usageError(message) {
  emit('summary', { ok: false, error: `usage: ${message}` });
  process.exit(EXIT_USAGE);
}

// The body of message `key`: (key + "|") repeated, cut to `size` bytes. Keys are ASCII.
function bodyFor(key, size) {
  const unit = Buffer.from(`${key}|`, 'utf8');
  const body = Buffer.alloc(size);
  for (let offset = 0; offset < size; offset += unit.length) {
    unit.copy(body, offset, 0, Math.min(unit.length, size - offset));
  }
  return body;
}

function sha256(buffer) {
  return crypto.createHash('sha256').update(buffer || Buffer.alloc(0)).digest('hex');
}

function toInt(name, value, min) {
  const number = typeof value === 'number' ? value : Number(value);
  if (!Number.isInteger(number) || number < min) {
    usageError(`--${name} must be an integer >= ${min}, got ${JSON.stringify(value)}`);
  }
  return number;
}

function toNumber(name, value, min) {
  const number = typeof value === 'number' ? value : Number(value);
  if (!Number.isFinite(number) || number < min) {
    usageError(`--${name} must be a number >= ${min}, got ${JSON.stringify(value)}`);
  }
  return number;
}

// Options come from --json '<object>' (keys as the long flag names) and from flags; flags win.
function parseOptions(spec, defaults, required) {
  const options = Object.assign({ json: { type: 'string' }, help: { type: 'boolean' } }, spec);
  let parsed;
  try {
    parsed = util.parseArgs({ options, allowPositionals: false, strict: true });
  } catch (err) {
    usageError(err.message);
  }
  if (parsed.values.help) {
    const flags = Object.keys(spec).map(name => `--${name}`).join(' ');
    process.stderr.write(`options: ${flags} --json '<object with the same keys>'\n`);
    process.exit(EXIT_OK);
  }
  let fromJson = {};
  if (parsed.values.json) {
    try {
      fromJson = JSON.parse(parsed.values.json);
    } catch (err) {
      usageError(`--json is not valid JSON: ${err.message}`);
    }
    if (fromJson === null || typeof fromJson !== 'object' || Array.isArray(fromJson)) {
      usageError('--json must be a JSON object');
    }
    for (const key of Object.keys(fromJson)) {
      if (!(key in spec)) {
        usageError(`unknown key in --json: ${key}`);
      }
    }
  }
  const values = Object.assign({}, defaults, fromJson);
  for (const [ key, value ] of Object.entries(parsed.values)) {
    if (key !== 'json' && key !== 'help') {
      values[key] = value;
    }
  }
  for (const key of required) {
    if (values[key] === undefined || values[key] === '') {
      usageError(`--${key} is required`);
    }
  }
  return values;
}

// Parse "k=v" strings (a flag may repeat) or an object into a plain string map.
function toProperties(value) {
  if (value === undefined || value === null) {
    return {};
  }
  if (!Array.isArray(value) && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([ k, v ]) => [ k, String(v) ]));
  }
  const entries = Array.isArray(value) ? value : [ value ];
  const properties = {};
  for (const entry of entries) {
    const index = String(entry).indexOf('=');
    if (index <= 0) {
      usageError(`--property expects key=value, got ${JSON.stringify(entry)}`);
    }
    properties[entry.slice(0, index)] = entry.slice(index + 1);
  }
  return properties;
}

// A JSON object given as text (from a flag) or already parsed (from --json).
function toObject(name, value) {
  let parsed = value;
  if (typeof value === 'string') {
    try {
      parsed = JSON.parse(value);
    } catch (err) {
      usageError(`--${name} is not valid JSON: ${err.message}`);
    }
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    usageError(`--${name} must be a JSON object`);
  }
  return parsed;
}

function toList(value) {
  if (value === undefined || value === null || value === '') {
    return [];
  }
  if (Array.isArray(value)) {
    return value.map(String);
  }
  return String(value).split(',').map(item => item.trim()).filter(Boolean);
}

// ali-ons logs through options.logger; keep stdout for JSON lines only.
function makeLogger(verbose) {
  const write = level => (...args) => {
    process.stderr.write(`[ali-ons ${level}] ${util.format(...args)}\n`);
  };
  const quiet = () => {};
  return {
    info: verbose ? write('info') : quiet,
    debug: verbose ? write('debug') : quiet,
    warn: write('warn'),
    error: write('error'),
  };
}

// ali-ons keeps timers and sockets alive after close(), so every run ends in process.exit.
function finish(summary) {
  emit('summary', summary);
  process.exit(summary.ok ? EXIT_OK : EXIT_FAILED);
}

function startDeadline(seconds, onTimeout) {
  return setTimeout(onTimeout, Math.round(seconds * 1000));
}

module.exports = {
  EXIT_FAILED,
  EXIT_OK,
  EXIT_USAGE,
  bodyFor,
  emit,
  errorText,
  finish,
  makeLogger,
  parseOptions,
  sha256,
  startDeadline,
  toInt,
  toList,
  toNumber,
  toObject,
  toProperties,
  usageError,
};
