'use strict';

// Consume with an ali-ons push consumer until `count` distinct messages were handled, then
// print one summary line. One JSON line per delivery ("message"), see ../README.md.
// Usage: node consume.js --namesrv 127.0.0.1:9876 --topic T --group G [--count N]
//   [--expression 'TagA || TagB'] [--expression-type TAG|SQL92] [--fail-first N]
//   [--consume-from first|last|timestamp] [--consume-timestamp YYYYMMDDHHmmss]
//   [--timeout SECONDS] [--startup-timeout SECONDS] [--linger SECONDS] [--broadcast]
//   [--client-options '<json merged into the ali-ons options>'] [--verbose]
//   | --json '{"namesrv": ..., ...}'

const { Consumer } = require('ali-ons');
const common = require('./common');

const SPEC = {
  namesrv: { type: 'string' },
  topic: { type: 'string' },
  group: { type: 'string' },
  count: { type: 'string' },
  expression: { type: 'string' },
  'expression-type': { type: 'string' },
  'fail-first': { type: 'string' },
  'consume-from': { type: 'string' },
  'consume-timestamp': { type: 'string' },
  timeout: { type: 'string' },
  'startup-timeout': { type: 'string' },
  linger: { type: 'string' },
  broadcast: { type: 'boolean' },
  'client-options': { type: 'string' },
  verbose: { type: 'boolean' },
};
const DEFAULTS = {
  count: 1,
  expression: '*',
  'expression-type': 'TAG',
  'fail-first': 0,
  'consume-from': 'first',
  timeout: 60,
  'startup-timeout': 15,
  linger: 0,
  broadcast: false,
  'client-options': '{}',
  verbose: false,
};
const CONSUME_FROM = {
  first: 'CONSUME_FROM_FIRST_OFFSET',
  last: 'CONSUME_FROM_LAST_OFFSET',
  timestamp: 'CONSUME_FROM_TIMESTAMP',
};
const FAIL_MARK = 'rmq interop driver: failing on purpose';

function readOptions() {
  const values = common.parseOptions(SPEC, DEFAULTS, [ 'namesrv', 'topic', 'group' ]);
  const consumeFrom = CONSUME_FROM[values['consume-from']];
  if (!consumeFrom) {
    common.usageError(`--consume-from must be one of ${Object.keys(CONSUME_FROM).join(', ')}`);
  }
  const expressionType = values['expression-type'];
  if (expressionType !== 'TAG' && expressionType !== 'SQL92') {
    common.usageError('--expression-type must be TAG or SQL92');
  }
  return {
    namesrv: values.namesrv,
    topic: values.topic,
    group: values.group,
    count: common.toInt('count', values.count, 0),
    expression: values.expression,
    expressionType,
    failFirst: common.toInt('fail-first', values['fail-first'], 0),
    consumeFrom,
    consumeTimestamp: values['consume-timestamp'],
    timeout: common.toNumber('timeout', values.timeout, 0.1),
    startupTimeout: common.toNumber('startup-timeout', values['startup-timeout'], 0),
    linger: common.toNumber('linger', values.linger, 0),
    broadcast: !!values.broadcast,
    clientOptions: common.toObject('client-options', values['client-options']),
    verbose: !!values.verbose,
  };
}

function describe(msg) {
  const body = msg.body || Buffer.alloc(0);
  const keys = msg.keys || null;
  return {
    topic: msg.topic,
    tags: msg.tags === undefined ? null : msg.tags,
    keys,
    msgId: msg.msgId,
    queueId: msg.queueId,
    queueOffset: msg.queueOffset,
    commitLogOffset: msg.commitLogOffset,
    reconsumeTimes: msg.reconsumeTimes,
    sysFlag: msg.sysFlag,
    flag: msg.flag,
    bornHost: msg.bornHost,
    storeHost: msg.storeHost,
    bodySize: body.length,
    bodySha256: common.sha256(body),
    bodyMatchesKey: keys !== null && body.equals(common.bodyFor(keys, body.length)),
    retryTopic: msg.retryTopic || null,
    originMessageId: msg.originMessageId || null,
    properties: msg.properties,
  };
}

async function main() {
  const opts = readOptions();
  const started = Date.now();
  const seen = new Set();
  const stats = { deliveries: 0, failed: 0, duplicates: 0 };
  let lastClientError = null;
  let finishing = false;
  let consumer = null;

  const summary = extra => Object.assign({
    client: 'ali-ons', role: 'consumer', expected: opts.count, received: seen.size,
    deliveries: stats.deliveries, failed: stats.failed, duplicates: stats.duplicates,
    elapsedMs: Date.now() - started,
  }, extra);
  const stop = async extra => {
    if (finishing) {
      return;
    }
    finishing = true;
    const closing = consumer ? consumer.close().catch(() => {}) : Promise.resolve();
    await Promise.race([ closing, new Promise(resolve => setTimeout(resolve, 5000)) ]);
    common.finish(summary(extra));
  };

  common.startDeadline(opts.timeout, () => {
    const error = `timeout after ${opts.timeout}s with ${seen.size}/${opts.count} messages`;
    common.finish(summary({ ok: false, error, lastClientError }));
  });

  consumer = new Consumer(Object.assign({
    nameSrv: opts.namesrv.split(';'),
    httpclient: {}, // only asserted to exist; nameSrv skips the HTTP address lookup
    clientIP: '127.0.0.1',
    // One client id (127.0.0.1@<pid>) for the consumer and its inner retry producer, which
    // would otherwise be 127.0.0.1@DEFAULT in every process.
    instanceName: String(process.pid),
    // Faster than ali-ons' defaults (30 s, 10 s, 5 s) so that routes created after start
    // (the %RETRY% topic on first heartbeat) are picked up within a test's time.
    pollNameServerInteval: 2000,
    rebalanceInterval: 2000,
    persistConsumerOffsetInterval: 1000,
    consumerGroup: opts.group,
    consumeFromWhere: opts.consumeFrom,
    isBroadcast: opts.broadcast,
    logger: common.makeLogger(opts.verbose),
  }, opts.consumeTimestamp ? { consumeTimestamp: opts.consumeTimestamp } : {},
  opts.clientOptions));
  consumer.on('error', err => {
    const message = common.errorText(err);
    if (!message.includes(FAIL_MARK)) {
      lastClientError = message;
      common.emit('client_error', { message });
    }
  });
  await consumer.ready();
  common.emit('started', { client: 'ali-ons', role: 'consumer', clientId: consumer.clientId });

  const subscription = opts.expressionType === 'TAG' ? opts.expression :
    { expressionType: opts.expressionType, subString: opts.expression };
  consumer.subscribe(opts.topic, subscription, async msg => {
    stats.deliveries++;
    const fail = stats.failed < opts.failFirst;
    common.emit('message', Object.assign(describe(msg), { outcome: fail ? 'fail' : 'ok' }));
    if (fail) {
      stats.failed++;
      throw new Error(FAIL_MARK);
    }
    const identity = msg.keys || msg.msgId;
    if (seen.has(identity)) {
      stats.duplicates++;
    } else {
      seen.add(identity);
    }
    if (seen.size >= opts.count && !finishing) {
      setTimeout(() => stop({ ok: true }), Math.round(opts.linger * 1000));
    }
  });

  watchAssignment(consumer, opts, () => lastClientError, stop);
  if (opts.count === 0) {
    setTimeout(() => stop({ ok: true }), Math.round(opts.linger * 1000));
  }
}

// Report the queues rebalance gives this consumer; fail if none arrive in startup-timeout.
function watchAssignment(consumer, opts, lastError, stop) {
  const deadline = Date.now() + opts.startupTimeout * 1000;
  const timer = setInterval(() => {
    const queues = [];
    for (const entry of consumer.processQueueTable.values()) {
      if (entry.messageQueue.topic === opts.topic) {
        queues.push({ brokerName: entry.messageQueue.brokerName, queueId: entry.messageQueue.queueId });
      }
    }
    if (queues.length) {
      clearInterval(timer);
      common.emit('assigned', { topic: opts.topic, queues });
    } else if (opts.startupTimeout > 0 && Date.now() > deadline) {
      clearInterval(timer);
      const error = `no queue of ${opts.topic} assigned within ${opts.startupTimeout}s`;
      stop({ ok: false, error, lastClientError: lastError() });
    }
  }, 100);
}

main().catch(err => {
  common.finish({ ok: false, client: 'ali-ons', role: 'consumer', error: common.errorText(err) });
});
